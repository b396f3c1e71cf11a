/**
 * The value of a vacated key, still in the map: one per `vacate()`, so a
 * purge knows whether the key stayed vacant since
 */
class Vacancy<K> {
  constructor (readonly key: K) {}
}

/**
 * A map whose vacated keys stay, vacant, until `purge()` or until more keys
 * are vacant than live: a key vacated and set again finds its entry.
 *
 * V8's `Map` keeps each deleted entry in its key's chain until the table is
 * rebuilt, and every lookup of the key walks them all. A key deleted and set
 * again and again (one peer registering and unregistering at its rate limit,
 * alone at its host) grows its chain by one each time: in a map of a million
 * entries, which is rebuilt only when its spare room fills, a lookup of that
 * key cost 0.4 ms after 10,000 such cycles and 1 ms after 100,000. Here a
 * vacated key leaves a deleted entry only when it stays vacant until a purge
 * reaches its vacancy: at the next sweep, or after as many keys vacated
 * since as there are live ones.
 */
export class VacancyMap<K, V> {
  private readonly entries = new Map<K, V | Vacancy<K>>()
  /**
   * Vacancies, oldest first from `head`; one a key set again since is stale
   */
  private vacancies: Array<Vacancy<K>> = []
  private head = 0
  private vacant = 0
  private readonly minVacancies: number

  /**
   * @param minVacancies - how many vacant keys may stay whatever the size
   */
  constructor (minVacancies = 1024) {
    this.minVacancies = minVacancies
  }

  /**
   * Live entries
   */
  get size (): number {
    return this.entries.size - this.vacant
  }

  get (key: K): V | undefined {
    const value = this.entries.get(key)
    return value instanceof Vacancy ? undefined : value
  }

  has (key: K): boolean {
    return this.get(key) !== undefined
  }

  set (key: K, value: V): this {
    if (this.entries.get(key) instanceof Vacancy) {
      this.vacant--
    }

    this.entries.set(key, value)
    return this
  }

  /**
   * Deletes a key at once, as `Map` does: for keys unlikely to be set again
   * soon (a mass of them going at once would only fill the vacancy list)
   */
  delete (key: K): boolean {
    const value = this.entries.get(key)

    if (value === undefined) {
      return false
    }

    this.entries.delete(key)

    if (value instanceof Vacancy) {
      this.vacant--
      return false
    }

    return true
  }

  /**
   * Deletes a key's value but keeps the key, vacant, until a purge: for a key
   * that may be set again soon
   */
  vacate (key: K): boolean {
    const value = this.entries.get(key)

    if (value === undefined || value instanceof Vacancy) {
      return false
    }

    const vacancy = new Vacancy(key)
    this.entries.set(key, vacancy)
    this.vacant++
    this.vacancies.push(vacancy)

    // at most two a call, so that vacating costs O(1) while the list
    // shrinks back under its bound after the live entries did
    for (let i = 0; i < 2 && this.listed() > Math.max(this.size, this.minVacancies); i++) {
      this.purge(1)
    }

    return true
  }

  * values (): Generator<V> {
    for (const value of this.entries.values()) {
      if (!(value instanceof Vacancy)) {
        yield value
      }
    }
  }

  /**
   * Goes through up to `max` of the oldest vacancies and deletes the keys
   * vacant since, and returns how many vacancies are left to go through
   */
  purge (max: number): number {
    const end = Math.min(this.vacancies.length, this.head + max)

    for (; this.head < end; this.head++) {
      const vacancy = this.vacancies[this.head]

      if (this.entries.get(vacancy.key) === vacancy) {
        this.entries.delete(vacancy.key)
        this.vacant--
      }
    }

    if (this.head === this.vacancies.length) {
      this.vacancies = []
      this.head = 0
    } else if (this.head >= this.minVacancies && this.head * 2 >= this.vacancies.length) {
      this.vacancies = this.vacancies.slice(this.head)
      this.head = 0
    }

    return this.listed()
  }

  /**
   * Vacancies not yet gone through, stale ones included
   */
  private listed (): number {
    return this.vacancies.length - this.head
  }
}

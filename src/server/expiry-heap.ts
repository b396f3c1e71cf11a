export interface Expiring {
  expiresAt: number

  /**
   * The entry's position in the heap, maintained by the heap; -1 when the
   * entry is not in it
   */
  heapIndex: number
}

/**
 * A binary min-heap ordered by expiry time in which every entry knows its
 * position, so any entry can be removed in O(log n). One heap replaces a timer
 * per registration.
 */
export class ExpiryHeap<T extends Expiring> {
  private readonly entries: T[] = []

  get size (): number {
    return this.entries.length
  }

  /**
   * The entry that expires first
   */
  peek (): T | undefined {
    return this.entries[0]
  }

  push (entry: T): void {
    entry.heapIndex = this.entries.length
    this.entries.push(entry)
    this.up(entry.heapIndex)
  }

  remove (entry: T): void {
    const index = entry.heapIndex

    if (index < 0 || this.entries[index] !== entry) {
      return
    }

    const last = this.entries.pop() as T
    entry.heapIndex = -1

    if (last !== entry) {
      this.entries[index] = last
      last.heapIndex = index
      this.down(index)
      this.up(last.heapIndex)
    }
  }

  private up (index: number): void {
    const entry = this.entries[index]

    while (index > 0) {
      const parentIndex = (index - 1) >>> 1
      const parent = this.entries[parentIndex]

      if (parent.expiresAt <= entry.expiresAt) {
        break
      }

      this.entries[index] = parent
      parent.heapIndex = index
      index = parentIndex
    }

    this.entries[index] = entry
    entry.heapIndex = index
  }

  private down (index: number): void {
    const entry = this.entries[index]
    const length = this.entries.length

    while (true) {
      let child = index * 2 + 1

      if (child >= length) {
        break
      }

      if (child + 1 < length && this.entries[child + 1].expiresAt < this.entries[child].expiresAt) {
        child++
      }

      if (this.entries[child].expiresAt >= entry.expiresAt) {
        break
      }

      this.entries[index] = this.entries[child]
      this.entries[index].heapIndex = index
      index = child
    }

    this.entries[index] = entry
    entry.heapIndex = index
  }
}

import { repeatingTask } from '@libp2p/utils'
import { DEFAULT_EXPIRY_INTERVAL, EXPIRY_BATCH_SIZE, MAX_EXPIRED_PER_DISCOVER } from '../constants.ts'
import { timerDelay } from '../options.ts'
import { bytesToString, stringEqualsBytes, stringWriter } from './byte-strings.ts'
import { ExpiryHeap } from './expiry-heap.ts'
import { namespaceBytes, overLimit, registrationBytes } from './registration-store.ts'
import { SequenceIndex } from './sequence-index.ts'
import { VacancyMap } from './vacancy-map.ts'
import type { DiscoverPage, DiscoverQuery, HeldRegistration, NewRegistration, Registration, RegistrationLimits, RegistrationStore } from './registration-store.ts'
import type { RepeatingTask } from '@libp2p/utils'

export interface MemoryRegistrationStoreInit {
  /**
   * How often memory held by expired registrations is reclaimed, in ms.
   * Expired registrations are never served, whatever this is. A positive
   * integer a timer can wait for, else `InvalidOptionError`.
   *
   * @default 10_000
   */
  expiryInterval?: number

  /**
   * Called with each registration the store drops because it expired, e.g.
   * to delete it from a backing datastore
   */
  onExpired?(registration: Registration): void
}

/**
 * A registration as the store holds it, shaped for memory: a million of them
 * stay within a few hundred bytes each beyond their records
 */
interface StoredRegistration {
  /**
   * A flat copy: `PeerId.toString()` is a slice of a longer string, which
   * would stay alive with it
   */
  peerId: string

  /**
   * The namespace index's own key, one string per namespace
   */
  namespace: string

  /**
   * The signed peer record, one character per byte: a string costs about
   * 190 bytes less than a Uint8Array with an ArrayBuffer of its own
   */
  record: string

  /**
   * In ms after the store's epoch: a small integer, not a boxed number, for
   * the first 24 days
   */
  expiresAt: number

  /**
   * After the store's first sequence: a small integer for 2^31 writes
   */
  sequence: number

  /**
   * The host it counts against, the host index's own key, or `undefined`
   */
  host: string | undefined

  heapIndex: number
}

/**
 * How many maps hold the registrations by peer
 */
const PEER_SHARDS = 256

/**
 * A namespace's registrations, which all share its one namespace string
 */
class NamespaceIndex extends SequenceIndex<StoredRegistration> {
  readonly namespace: string

  /**
   * What holding the namespace costs against `maxStoreBytes`
   */
  readonly bytes: number

  constructor (namespace: string) {
    super()
    this.namespace = namespace
    this.bytes = namespaceBytes(namespace)
  }
}

/**
 * What a peer holds: its registration when it is in one namespace (most
 * peers), a map by namespace when in several, which costs some 180 bytes more
 */
type PeerRegistrations = StoredRegistration | Map<string, StoredRegistration>

/**
 * What a host holds: its registration when it has one (most hosts), a set
 * when several
 */
type HostRegistrations = StoredRegistration | Set<StoredRegistration>

/**
 * Keeps registrations in memory: the default store of a rendezvous point.
 *
 * Each registration sits in a per-namespace index and an index across
 * namespaces, both ordered by sequence, so a DISCOVER with a cookie costs
 * O(limit + log n), and in one heap ordered by expiry, so expiry needs no
 * timer per registration.
 */
export class MemoryRegistrationStore implements RegistrationStore {
  /**
   * By peer, in shards: growing or shrinking one map of a million entries
   * rehashes it all at once, which stalls every request for tens of ms
   */
  private readonly byPeer = Array.from({ length: PEER_SHARDS }, () => new VacancyMap<string, PeerRegistrations>())
  private readonly byNamespace = new VacancyMap<string, NamespaceIndex>()
  private readonly byHost = new VacancyMap<string, HostRegistrations>()
  private readonly all = new SequenceIndex<StoredRegistration>()
  private readonly expiry = new ExpiryHeap<StoredRegistration>()
  private readonly sweep: RepeatingTask
  private readonly onExpired?: (registration: Registration) => void

  /**
   * What the registrations and namespaces held cost against `maxStoreBytes`
   */
  private storedBytes = 0

  /**
   * Sequences start at the clock in µs and go up by one a write, so they
   * keep increasing across restarts (no store writes once a µs) and a cookie
   * issued by an earlier process never skips new registrations
   */
  private readonly firstSequence = Date.now() * 1000
  private lastSequence = this.firstSequence
  private readonly epoch = Date.now()

  constructor (init: MemoryRegistrationStoreInit = {}) {
    this.onExpired = init.onExpired
    this.sweep = repeatingTask(async (options) => {
      // reclaim in batches, yielding to requests between them, so a mass
      // expiry does not stall them
      while (options?.signal?.aborted !== true && this.removeExpired(Date.now(), EXPIRY_BATCH_SIZE) === EXPIRY_BATCH_SIZE) {
        await yieldToEventLoop(options?.signal)
      }

      // the keys left vacant since the last sweep, as many at a time
      for (const map of [this.byHost, this.byNamespace, ...this.byPeer]) {
        while (options?.signal?.aborted !== true && map.purge(EXPIRY_BATCH_SIZE) > 0) {
          await yieldToEventLoop(options?.signal)
        }
      }
    }, timerDelay('expiryInterval', init.expiryInterval ?? DEFAULT_EXPIRY_INTERVAL))
  }

  start (): void {
    this.sweep.start()
  }

  stop (): void {
    this.sweep.stop()
  }

  count (): number {
    return this.all.size
  }

  /**
   * What the registrations and namespaces held cost, as `maxStoreBytes`
   * counts it (expired ones not yet reclaimed included)
   */
  bytes (): number {
    return this.storedBytes
  }

  // typed as the interface's, so that a subclass may still override it with
  // an async method
  put (registration: NewRegistration, limits: RegistrationLimits): Registration | Promise<Registration> {
    return this.putSync(registration, limits)
  }

  /**
   * `put()`, done before it returns: for stores built on this one that must
   * act on a write in the order it was decided
   */
  putSync (registration: NewRegistration, limits: RegistrationLimits): Registration {
    const now = Date.now()
    let existing = this.find(registration.peerId, registration.namespace)

    // a lapsed registration is not held: registering again is a new one
    if (existing != null && existing.expiresAt <= now - this.epoch) {
      this.expire(existing)
      existing = undefined
    }

    if (existing == null) {
      // expired registrations must not count against the caps, but only the
      // ones in the way are reclaimed here: the sweep takes the rest in
      // batches, between requests
      if (this.peerCount(registration.peerId) >= limits.maxRegistrationsPerPeer) {
        this.reclaimExpired(this.registrationsOf(registration.peerId), now)
      }

      if (this.peerCount(registration.peerId) >= limits.maxRegistrationsPerPeer) {
        throw overLimit('maxRegistrationsPerPeer', limits)
      }

      if (this.all.size >= limits.maxRegistrations && this.removeExpired(now, 1) === 0) {
        throw overLimit('maxRegistrations', limits)
      }

      const host = registration.host

      if (host != null && this.hostCount(host) >= limits.maxRegistrationsPerHost) {
        // only when something expired at all: a host at its cap would
        // otherwise have its registrations walked at each REGISTER
        if (this.anyExpired(now)) {
          this.reclaimExpired(this.registrationsOfHost(host), now)
        }

        if (this.hostCount(host) >= limits.maxRegistrationsPerHost) {
          throw overLimit('maxRegistrationsPerHost', limits, host)
        }
      }
    }

    if (!this.fits(registration, existing, limits.maxStoreBytes, now)) {
      throw overLimit('maxStoreBytes', limits)
    }

    // a refresh stays counted against the host it was first counted against
    const host = existing == null ? registration.host : existing.host
    const same = this.heldRecord(registration.peerId, registration.signedPeerRecord, now)

    // built field by field: a copy that then deletes `host` is an object
    // V8 keeps in its slow dictionary form
    const written: Registration = {
      peerId: registration.peerId,
      namespace: registration.namespace,
      signedPeerRecord: registration.signedPeerRecord,
      expiresAt: registration.expiresAt,
      sequence: this.nextSequence()
    }

    if (host != null) {
      written.host = host
    }

    if (existing == null) {
      this.insert(written, written.sequence, same)
    } else {
      this.refresh(existing, written, same)
    }

    return written
  }

  /**
   * Moves a held registration to the end of the sequence with what
   * `written` says, in place. Removing it from the maps by peer and by host
   * and adding it back would leave a deleted entry in its key's chain of a
   * V8 hash table each time, which every lookup of that key walks until the
   * table is rebuilt: refreshing one registration again and again grew the
   * cost of each refresh with the size of the host map.
   */
  private refresh (stored: StoredRegistration, written: Registration, same?: StoredRegistration): void {
    // found by their current sequence and expiry
    this.expiry.remove(stored)
    this.all.remove(stored)
    const namespaceIndex = this.byNamespace.get(stored.namespace)
    namespaceIndex?.remove(stored)

    this.storedBytes -= registrationBytes(stored.record.length)
    stored.record = same?.record ?? bytesToString(written.signedPeerRecord)
    stored.expiresAt = smallInteger(written.expiresAt - this.epoch)
    stored.sequence = smallInteger(written.sequence - this.firstSequence)
    this.storedBytes += registrationBytes(stored.record.length)

    namespaceIndex?.append(stored)
    this.all.append(stored)
    this.expiry.push(stored)
  }

  /**
   * How many hosts hold `maxRegistrationsPerHost` registrations or more: a
   * walk over the hosts, for metrics
   */
  hostsAtLimit (maxRegistrationsPerHost: number): number {
    let atLimit = 0

    for (const held of this.byHost.values()) {
      if ((held instanceof Set ? held.size : 1) >= maxRegistrationsPerHost) {
        atLimit++
      }
    }

    return atLimit
  }

  /**
   * Reclaims those of `registrations` that expired at or before `now`
   */
  private reclaimExpired (registrations: StoredRegistration[], now: number): void {
    for (const stored of registrations) {
      if (stored.expiresAt <= now - this.epoch) {
        this.expire(stored)
      }
    }
  }

  /**
   * Whether any registration expired at or before `now` and is not yet
   * reclaimed
   */
  private anyExpired (now: number): boolean {
    const next = this.expiry.peek()
    return next != null && next.expiresAt <= now - this.epoch
  }

  /**
   * Whether the store stays within `maxStoreBytes` once `registration`
   * replaces `existing` (a live registration of the same peer and namespace)
   * or is added. Reclaims expired registrations until it does: each frees at
   * least `REGISTRATION_OVERHEAD_BYTES`, so for a record the point admits
   * this takes a handful at most.
   */
  private fits (registration: NewRegistration, existing: StoredRegistration | undefined, maxStoreBytes: number, now: number): boolean {
    const cost = registrationBytes(registration.signedPeerRecord.byteLength)
    const needed = (): number => {
      if (existing != null) {
        return cost - registrationBytes(existing.record.length)
      }

      // reclaiming may drop the namespace's index, which it then needs again
      return this.byNamespace.has(registration.namespace) ? cost : cost + namespaceBytes(registration.namespace)
    }

    while (this.storedBytes + needed() > maxStoreBytes) {
      // `existing` is live: reclaiming never takes it
      if (this.removeExpired(now, 1) === 0) {
        return false
      }
    }

    return true
  }

  /**
   * The live or not yet reclaimed registration of (`peerId`, `namespace`)
   */
  get (peerId: string, namespace: string): Registration | undefined {
    const stored = this.find(peerId, namespace)
    return stored == null ? undefined : this.toRegistrations([stored])[0]
  }

  /**
   * Puts back registrations read from persistent storage, with the sequences
   * they were written with, so cookies issued before a restart stay valid.
   * Registrations must come in ascending sequence order; expired ones and
   * ones superseded by a later sequence are skipped.
   */
  restore (registrations: Iterable<Registration>): void {
    const now = Date.now()

    for (const registration of registrations) {
      const existing = this.find(registration.peerId, registration.namespace)

      if (registration.expiresAt <= now || (existing != null && existing.sequence + this.firstSequence >= registration.sequence)) {
        continue
      }

      if (existing != null) {
        this.remove(existing)
      }

      this.lastSequence = Math.max(this.lastSequence, registration.sequence)
      this.insert(registration, registration.sequence)
    }
  }

  /**
   * Indexes a registration. With `same`, a registration of the same peer
   * with the same record, the new one shares its strings: a refresh, or our
   * client's record in another namespace, costs no new ones.
   */
  private insert (registration: NewRegistration, sequence: number, same?: StoredRegistration): void {
    let namespaceIndex = this.byNamespace.get(registration.namespace)
    let namespace = registration.namespace

    if (namespaceIndex == null) {
      namespaceIndex = new NamespaceIndex(namespace)
      this.byNamespace.set(namespace, namespaceIndex)
      this.storedBytes += namespaceIndex.bytes
    } else {
      namespace = namespaceIndex.namespace
    }

    const stored: StoredRegistration = {
      peerId: same?.peerId ?? flatCopy(registration.peerId),
      namespace,
      record: same?.record ?? bytesToString(registration.signedPeerRecord),
      expiresAt: smallInteger(registration.expiresAt - this.epoch),
      sequence: smallInteger(sequence - this.firstSequence),
      host: registration.host == null ? undefined : this.hostKey(registration.host),
      heapIndex: -1
    }

    if (stored.host != null) {
      const byHost = this.byHost.get(stored.host)

      if (byHost == null) {
        this.byHost.set(stored.host, stored)
      } else if (byHost instanceof Set) {
        byHost.add(stored)
      } else {
        this.byHost.set(stored.host, new Set([byHost, stored]))
      }
    }

    const shard = this.peerShard(stored.peerId)
    const held = shard.get(stored.peerId)

    if (held == null) {
      shard.set(stored.peerId, stored)
    } else if (held instanceof Map) {
      held.set(namespace, stored)
    } else {
      shard.set(stored.peerId, new Map([[held.namespace, held], [namespace, stored]]))
    }

    namespaceIndex.append(stored)
    this.all.append(stored)
    this.expiry.push(stored)
    this.storedBytes += registrationBytes(stored.record.length)
  }

  /**
   * The registration of (`peerId`, `namespace`), if held
   */
  private find (peerId: string, namespace: string): StoredRegistration | undefined {
    const held = this.heldBy(peerId)

    if (held instanceof Map) {
      return held.get(namespace)
    }

    return held?.namespace === namespace ? held : undefined
  }

  private peerShard (peerId: string): VacancyMap<string, PeerRegistrations> {
    // peer ids end in base58 digits of their key's hash; any string works
    const last = peerId.length > 0 ? peerId.charCodeAt(peerId.length - 1) : 0
    const beforeLast = peerId.length > 1 ? peerId.charCodeAt(peerId.length - 2) : 0
    return this.byPeer[(last * 58 + beforeLast) % PEER_SHARDS]
  }

  private heldBy (peerId: string): PeerRegistrations | undefined {
    return this.peerShard(peerId).get(peerId)
  }

  private peerCount (peerId: string): number {
    const held = this.heldBy(peerId)
    return held == null ? 0 : held instanceof Map ? held.size : 1
  }

  private registrationsOf (peerId: string): StoredRegistration[] {
    const held = this.heldBy(peerId)
    return held == null ? [] : held instanceof Map ? [...held.values()] : [held]
  }

  private hostCount (host: string): number {
    const held = this.byHost.get(host)
    return held == null ? 0 : held instanceof Set ? held.size : 1
  }

  private registrationsOfHost (host: string): StoredRegistration[] {
    const held = this.byHost.get(host)
    return held == null ? [] : held instanceof Set ? [...held] : [held]
  }

  /**
   * The host index's own string for `host`, so its registrations share one
   */
  private hostKey (host: string): string {
    const held = this.byHost.get(host)

    if (held == null) {
      return flatCopy(host)
    }

    return (held instanceof Set ? held.values().next().value as StoredRegistration : held).host ?? host
  }

  holdsRecord (peerId: string, signedPeerRecord: Uint8Array, now: number): boolean {
    return this.heldRecord(peerId, signedPeerRecord, now) != null
  }

  /**
   * A live registration of `peerId` whose record is `signedPeerRecord`
   */
  private heldRecord (peerId: string, signedPeerRecord: Uint8Array, now: number): StoredRegistration | undefined {
    const held = this.heldBy(peerId)

    if (held == null) {
      return undefined
    }

    for (const stored of held instanceof Map ? held.values() : [held]) {
      if (stored.expiresAt > now - this.epoch && stringEqualsBytes(stored.record, signedPeerRecord)) {
        return stored
      }
    }

    return undefined
  }

  async delete (peerId: string, namespace: string): Promise<void> {
    this.deleteSync(peerId, namespace)
  }

  /**
   * `delete()`, done before it returns; returns the registration it removed
   */
  deleteSync (peerId: string, namespace: string): Registration | undefined {
    const existing = this.find(peerId, namespace)

    if (existing == null) {
      return undefined
    }

    const removed = this.toRegistrations([existing])[0]
    // the peer may register again at once, and again
    this.remove(existing, true)
    return removed
  }

  async discover (query: DiscoverQuery): Promise<DiscoverPage> {
    const { found, cursor } = this.page(query)
    return { registrations: this.toRegistrations(found), cursor }
  }

  /**
   * `discover()` with the records as the strings the store holds: a page
   * without an `ArrayBuffer` of records and a view of each. A subclass that
   * changes `discover()` (to filter, count or log its pages) keeps its say
   * over every page: this then lists through it.
   */
  async discoverHeld (query: DiscoverQuery): Promise<DiscoverPage<HeldRegistration>> {
    if (this.discover !== MemoryRegistrationStore.prototype.discover) {
      return this.discover(query)
    }

    const { found, cursor } = this.page(query)
    const registrations = found.map(({ namespace, expiresAt, record }) => ({ namespace, expiresAt: expiresAt + this.epoch, signedPeerRecord: record }))
    return { registrations, cursor }
  }

  /**
   * The registrations of a DISCOVER page, and its cursor
   */
  private page (query: DiscoverQuery): { found: StoredRegistration[], cursor: number } {
    const index = query.namespace == null ? this.all : this.byNamespace.get(query.namespace)
    const found: StoredRegistration[] = []
    let cursor = query.after

    if (index == null || query.limit <= 0) {
      return { found, cursor }
    }

    const now = query.now - this.epoch
    let expired = 0

    for (const entry of index.after(query.after - this.firstSequence)) {
      cursor = entry.sequence + this.firstSequence

      if (entry.expiresAt > now) {
        found.push(entry)

        if (found.length === query.limit) {
          break
        }
      } else if (++expired === MAX_EXPIRED_PER_DISCOVER) {
        // after a mass expiry, until the sweep reclaims them: a short page
        // and a cookie past the expired ones, not a scan of them all
        break
      }
    }

    return { found, cursor }
  }

  /**
   * Removes up to `max` registrations that expired at or before `now`, and
   * returns how many it removed
   */
  removeExpired (now: number, max: number): number {
    let removed = 0

    while (removed < max) {
      const next = this.expiry.peek()

      if (next == null || next.expiresAt > now - this.epoch) {
        break
      }

      this.expire(next)
      removed++
    }

    return removed
  }

  private expire (stored: StoredRegistration): void {
    this.remove(stored)
    if (this.onExpired != null) {
      this.onExpired(this.toRegistrations([stored])[0])
    }
  }

  /**
   * Takes a registration out of every index. With `vacate`, the keys it
   * leaves unused in the maps by peer, host and namespace stay vacant until
   * the next sweep (see `VacancyMap`); otherwise they go at once.
   */
  private remove (stored: StoredRegistration, vacate = false): void {
    this.expiry.remove(stored)

    if (!this.all.remove(stored)) {
      // removed already
      return
    }

    this.storedBytes -= registrationBytes(stored.record.length)
    const namespaceIndex = this.byNamespace.get(stored.namespace)

    if (namespaceIndex != null) {
      namespaceIndex.remove(stored)

      if (namespaceIndex.size === 0) {
        vacate ? this.byNamespace.vacate(stored.namespace) : this.byNamespace.delete(stored.namespace)
        this.storedBytes -= namespaceIndex.bytes
      }
    }

    const shard = this.peerShard(stored.peerId)
    const held = shard.get(stored.peerId)

    if (held === stored) {
      vacate ? shard.vacate(stored.peerId) : shard.delete(stored.peerId)
    } else if (held instanceof Map && held.get(stored.namespace) === stored) {
      held.delete(stored.namespace)

      if (held.size === 1) {
        // back to the compact form
        shard.set(stored.peerId, held.values().next().value as StoredRegistration)
      }
    }

    if (stored.host != null) {
      const byHost = this.byHost.get(stored.host)

      if (byHost === stored) {
        vacate ? this.byHost.vacate(stored.host) : this.byHost.delete(stored.host)
      } else if (byHost instanceof Set && byHost.delete(stored) && byHost.size === 1) {
        this.byHost.set(stored.host, byHost.values().next().value as StoredRegistration)
      }
    }
  }

  private nextSequence (): number {
    // never repeats or goes back, whatever the clock does
    return ++this.lastSequence
  }

  /**
   * Registrations as the store's callers see them, their records in one
   * buffer: an ArrayBuffer each would cost more than the rest of a page
   */
  private toRegistrations (stored: StoredRegistration[]): Registration[] {
    const records = new Uint8Array(stored.reduce((length, { record }) => length + record.length, 0))
    const write = stringWriter(records)
    let offset = 0

    return stored.map(({ peerId, namespace, record, expiresAt, sequence, host }) => {
      const signedPeerRecord = records.subarray(offset, offset + record.length)
      offset += write(record, offset)
      const registration: Registration = { peerId, namespace, signedPeerRecord, expiresAt: expiresAt + this.epoch, sequence: sequence + this.firstSequence }

      if (host != null) {
        registration.host = host
      }

      return registration
    })
  }
}

/**
 * Resolves on a later turn of the event loop, or at once when `signal` aborts
 */
async function yieldToEventLoop (signal?: AbortSignal): Promise<void> {
  await new Promise<void>(resolve => {
    const done = (): void => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    const timer = setTimeout(done, 0)
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * `n`, held as a small integer when it is one: V8 boxes the result of
 * arithmetic on large numbers even when it is small, and an object field
 * that once held a box holds every later value in one (16 bytes each)
 */
function smallInteger (n: number): number {
  return (n | 0) === n ? n | 0 : n
}

/**
 * A flat copy of a string, which shares no memory with the one it copies
 */
function flatCopy (string: string): string {
  return JSON.parse(JSON.stringify(string))
}

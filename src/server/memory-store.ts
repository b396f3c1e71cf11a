import { repeatingTask } from '@libp2p/utils'
import { DEFAULT_EXPIRY_INTERVAL, EXPIRY_BATCH_SIZE, MAX_EXPIRED_PER_DISCOVER } from '../constants.ts'
import { NotAuthorizedError, UnavailableError } from '../errors.ts'
import { ExpiryHeap } from './expiry-heap.ts'
import { SequenceIndex } from './sequence-index.ts'
import type { DiscoverPage, DiscoverQuery, NewRegistration, Registration, RegistrationLimits, RegistrationStore } from './registration-store.ts'
import type { RepeatingTask } from '@libp2p/utils'

export interface MemoryRegistrationStoreInit {
  /**
   * How often memory held by expired registrations is reclaimed, in ms.
   * Expired registrations are never served, whatever this is.
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

  constructor (namespace: string) {
    super()
    this.namespace = namespace
  }
}

/**
 * What a peer holds: its registration when it is in one namespace (most
 * peers), a map by namespace when in several, which costs some 180 bytes more
 */
type PeerRegistrations = StoredRegistration | Map<string, StoredRegistration>

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
  private readonly byPeer = Array.from({ length: PEER_SHARDS }, () => new Map<string, PeerRegistrations>())
  private readonly byNamespace = new Map<string, NamespaceIndex>()
  private readonly all = new SequenceIndex<StoredRegistration>()
  private readonly expiry = new ExpiryHeap<StoredRegistration>()
  private readonly sweep: RepeatingTask
  private readonly onExpired?: (registration: Registration) => void

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
    }, init.expiryInterval ?? DEFAULT_EXPIRY_INTERVAL)
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

  async put (registration: NewRegistration, limits: RegistrationLimits): Promise<Registration> {
    const now = Date.now()
    const existing = this.find(registration.peerId, registration.namespace)
    // looked up before the registration it refreshes goes
    const same = this.heldRecord(registration.peerId, registration.signedPeerRecord, now)

    if (existing != null) {
      this.remove(existing)
    } else {
      // expired registrations must not count against the caps, but only the
      // ones in the way are reclaimed here: the sweep takes the rest in
      // batches, between requests
      if (this.peerCount(registration.peerId) >= limits.maxRegistrationsPerPeer) {
        for (const stored of this.registrationsOf(registration.peerId)) {
          if (stored.expiresAt <= now - this.epoch) {
            this.expire(stored)
          }
        }
      }

      if (this.peerCount(registration.peerId) >= limits.maxRegistrationsPerPeer) {
        throw new NotAuthorizedError(`peer is registered in ${limits.maxRegistrationsPerPeer} namespaces, the most allowed`)
      }

      if (this.all.size >= limits.maxRegistrations && this.removeExpired(now, 1) === 0) {
        throw new UnavailableError('the rendezvous point is full')
      }
    }

    const sequence = this.nextSequence()
    this.insert(registration, sequence, same)

    return { ...registration, sequence }
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
    } else {
      namespace = namespaceIndex.namespace
    }

    const stored: StoredRegistration = {
      peerId: same?.peerId ?? flatCopy(registration.peerId),
      namespace,
      record: same?.record ?? bytesToString(registration.signedPeerRecord),
      expiresAt: smallInteger(registration.expiresAt - this.epoch),
      sequence: smallInteger(sequence - this.firstSequence),
      heapIndex: -1
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

  private peerShard (peerId: string): Map<string, PeerRegistrations> {
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
    const existing = this.find(peerId, namespace)

    if (existing != null) {
      this.remove(existing)
    }
  }

  async discover (query: DiscoverQuery): Promise<DiscoverPage> {
    const index = query.namespace == null ? this.all : this.byNamespace.get(query.namespace)
    const found: StoredRegistration[] = []
    let cursor = query.after

    if (index == null || query.limit <= 0) {
      return { registrations: [], cursor }
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

    return { registrations: this.toRegistrations(found), cursor }
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

  private remove (stored: StoredRegistration): void {
    this.expiry.remove(stored)
    this.all.remove(stored)

    const namespaceIndex = this.byNamespace.get(stored.namespace)

    if (namespaceIndex != null) {
      namespaceIndex.remove(stored)

      if (namespaceIndex.size === 0) {
        this.byNamespace.delete(stored.namespace)
      }
    }

    const shard = this.peerShard(stored.peerId)
    const held = shard.get(stored.peerId)

    if (held === stored) {
      shard.delete(stored.peerId)
    } else if (held instanceof Map && held.get(stored.namespace) === stored) {
      held.delete(stored.namespace)

      if (held.size === 1) {
        // back to the compact form
        shard.set(stored.peerId, held.values().next().value as StoredRegistration)
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
    let offset = 0

    return stored.map(({ peerId, namespace, record, expiresAt, sequence }) => {
      const signedPeerRecord = records.subarray(offset, offset + record.length)
      offset += writeString(record, signedPeerRecord)

      return { peerId, namespace, signedPeerRecord, expiresAt: expiresAt + this.epoch, sequence: sequence + this.firstSequence }
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

/**
 * Bytes as a string of one character per byte. By chunks: spreading a long
 * array into one call would overflow the stack. (uint8arrays' `latin1` builds
 * it a character at a time and returns a slice, which keeps a longer string
 * alive.)
 */
function bytesToString (bytes: Uint8Array): string {
  let string = ''

  for (let offset = 0; offset < bytes.byteLength; offset += 4096) {
    string += String.fromCharCode(...bytes.subarray(offset, offset + 4096))
  }

  return string
}

/**
 * Whether a string of one character per byte holds exactly `bytes`
 */
function stringEqualsBytes (string: string, bytes: Uint8Array): boolean {
  if (string.length !== bytes.byteLength) {
    return false
  }

  for (let i = 0; i < bytes.byteLength; i++) {
    if (string.charCodeAt(i) !== bytes[i]) {
      return false
    }
  }

  return true
}

/**
 * Writes a string of one character per byte into `bytes`, and returns its
 * length
 */
function writeString (string: string, bytes: Uint8Array): number {
  for (let i = 0; i < string.length; i++) {
    bytes[i] = string.charCodeAt(i)
  }

  return string.length
}

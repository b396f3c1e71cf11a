import { repeatingTask } from '@libp2p/utils'
import { DEFAULT_EXPIRY_INTERVAL, EXPIRY_BATCH_SIZE } from '../constants.ts'
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

interface StoredRegistration extends Registration {
  heapIndex: number
}

/**
 * Keeps registrations in memory: the default store of a rendezvous point.
 *
 * Each registration sits in a per-namespace index and an index across
 * namespaces, both ordered by sequence, so a DISCOVER with a cookie costs
 * O(limit + log n), and in one heap ordered by expiry, so expiry needs no
 * timer per registration.
 */
export class MemoryRegistrationStore implements RegistrationStore {
  private readonly byPeer = new Map<string, Map<string, StoredRegistration>>()
  private readonly byNamespace = new Map<string, SequenceIndex<StoredRegistration>>()
  private readonly all = new SequenceIndex<StoredRegistration>()
  private readonly expiry = new ExpiryHeap<StoredRegistration>()
  private readonly sweep: RepeatingTask
  private readonly onExpired?: (registration: Registration) => void

  /**
   * Sequences start at the clock in µs, so they keep increasing across
   * restarts and a cookie issued by an earlier process never skips new
   * registrations
   */
  private lastSequence = Date.now() * 1000

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

    // expired registrations must not count against the caps
    this.removeExpired(now, EXPIRY_BATCH_SIZE)

    const existing = this.byPeer.get(registration.peerId)?.get(registration.namespace)

    if (existing != null) {
      this.remove(existing)
    } else {
      if ((this.byPeer.get(registration.peerId)?.size ?? 0) >= limits.maxRegistrationsPerPeer) {
        // the batch above may not have reached this peer's expired ones
        for (const stored of this.byPeer.get(registration.peerId)?.values() ?? []) {
          if (stored.expiresAt <= now) {
            this.expire(stored)
          }
        }
      }

      if ((this.byPeer.get(registration.peerId)?.size ?? 0) >= limits.maxRegistrationsPerPeer) {
        throw new NotAuthorizedError(`peer is registered in ${limits.maxRegistrationsPerPeer} namespaces, the most allowed`)
      }

      if (this.all.size >= limits.maxRegistrations) {
        throw new UnavailableError('the rendezvous point is full')
      }
    }

    return toRegistration(this.insert({ ...registration, sequence: this.nextSequence() }))
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
      const existing = this.byPeer.get(registration.peerId)?.get(registration.namespace)

      if (registration.expiresAt <= now || (existing != null && existing.sequence >= registration.sequence)) {
        continue
      }

      if (existing != null) {
        this.remove(existing)
      }

      this.lastSequence = Math.max(this.lastSequence, registration.sequence)
      this.insert(registration)
    }
  }

  private insert (registration: Registration): StoredRegistration {
    const stored: StoredRegistration = {
      peerId: registration.peerId,
      namespace: registration.namespace,
      signedPeerRecord: registration.signedPeerRecord,
      expiresAt: registration.expiresAt,
      sequence: registration.sequence,
      heapIndex: -1
    }

    let peerRegistrations = this.byPeer.get(stored.peerId)

    if (peerRegistrations == null) {
      peerRegistrations = new Map()
      this.byPeer.set(stored.peerId, peerRegistrations)
    }

    peerRegistrations.set(stored.namespace, stored)

    let namespaceIndex = this.byNamespace.get(stored.namespace)

    if (namespaceIndex == null) {
      namespaceIndex = new SequenceIndex()
      this.byNamespace.set(stored.namespace, namespaceIndex)
    }

    namespaceIndex.append(stored)
    this.all.append(stored)
    this.expiry.push(stored)

    return stored
  }

  async delete (peerId: string, namespace: string): Promise<void> {
    const existing = this.byPeer.get(peerId)?.get(namespace)

    if (existing != null) {
      this.remove(existing)
    }
  }

  async discover (query: DiscoverQuery): Promise<DiscoverPage> {
    const index = query.namespace == null ? this.all : this.byNamespace.get(query.namespace)
    const registrations: Registration[] = []
    let cursor = query.after

    if (index == null || query.limit <= 0) {
      return { registrations, cursor }
    }

    for (const entry of index.after(query.after)) {
      cursor = entry.sequence

      if (entry.expiresAt > query.now) {
        registrations.push(toRegistration(entry))

        if (registrations.length === query.limit) {
          break
        }
      }
    }

    return { registrations, cursor }
  }

  /**
   * Removes up to `max` registrations that expired at or before `now`, and
   * returns how many it removed
   */
  removeExpired (now: number, max: number): number {
    let removed = 0

    while (removed < max) {
      const next = this.expiry.peek()

      if (next == null || next.expiresAt > now) {
        break
      }

      this.expire(next)
      removed++
    }

    return removed
  }

  private expire (stored: StoredRegistration): void {
    this.remove(stored)
    this.onExpired?.(toRegistration(stored))
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

    const peerRegistrations = this.byPeer.get(stored.peerId)

    if (peerRegistrations?.get(stored.namespace) === stored) {
      peerRegistrations.delete(stored.namespace)

      if (peerRegistrations.size === 0) {
        this.byPeer.delete(stored.peerId)
      }
    }
  }

  private nextSequence (): number {
    // never repeat or go back, even if the clock does
    this.lastSequence = Math.max(this.lastSequence + 1, Date.now() * 1000)
    return this.lastSequence
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

function toRegistration (stored: StoredRegistration): Registration {
  return {
    peerId: stored.peerId,
    namespace: stored.namespace,
    signedPeerRecord: stored.signedPeerRecord,
    expiresAt: stored.expiresAt,
    sequence: stored.sequence
  }
}

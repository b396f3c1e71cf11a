import { Key } from 'interface-datastore'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { InternalError } from '../errors.ts'
import { StoredRegistration } from '../pb/store.ts'
import { MemoryRegistrationStore } from './memory-store.ts'
import type { MemoryRegistrationStoreInit } from './memory-store.ts'
import type { DiscoverPage, DiscoverQuery, HeldRegistration, NewRegistration, Registration, RegistrationLimits, RegistrationStore } from './registration-store.ts'
import type { ComponentLogger, Logger } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

export interface DatastoreRegistrationStoreInit extends Omit<MemoryRegistrationStoreInit, 'onExpired'> {
  /**
   * The key under which registrations are written
   *
   * @default '/rendezvous/registrations'
   */
  prefix?: string
}

export interface DatastoreRegistrationStoreComponents {
  datastore: Datastore
  logger: ComponentLogger
}

const utf8 = new TextEncoder()

/**
 * Limits that never refuse: what the datastore held is put back as it was
 */
const NO_LIMITS: RegistrationLimits = { maxRegistrationsPerPeer: Infinity, maxRegistrations: Infinity, maxStoreBytes: Infinity, maxRegistrationsPerHost: Infinity }

/**
 * The writes of one key that have not settled yet
 */
interface PendingWrites {
  /**
   * Settles once the last write issued for the key has: the next one waits
   * for it
   */
  tail: Promise<void>

  /**
   * What the datastore holds for the key, as far as the settled writes tell
   */
  durable?: Registration

  /**
   * The last write decided for the key
   */
  last: number
}

/**
 * Keeps registrations in any `interface-datastore` (LevelDB on Node,
 * IndexedDB in a browser, a libp2p node's own datastore), so they survive a
 * restart.
 *
 * Queries are served from the same in-memory indexes as
 * `MemoryRegistrationStore`; every write goes through to the datastore before
 * it is acknowledged, and `start()` loads what was stored, dropping what
 * expired meanwhile. Sequences are stored too, so a cookie issued before a
 * restart keeps working after it when the point keeps its cookie secret.
 *
 * Memory decides each change at once, in the order requests come; the
 * datastore gets the writes of one (peer, namespace) one after the other in
 * that order (a datastore may apply writes of one key issued together in any
 * order), writes of different ones at the same time. When a write fails and
 * no later change of its (peer, namespace) was decided meanwhile, memory goes
 * back to what the datastore holds, so what is served is what a restart
 * brings back. `stop()` waits for every write in flight.
 */
export class DatastoreRegistrationStore implements RegistrationStore {
  private readonly datastore: Datastore
  private readonly log: Logger
  private readonly prefix: string
  private readonly memory: MemoryRegistrationStore

  /**
   * By key, the (peer, namespace) pairs with writes in flight
   */
  private readonly writes = new Map<string, PendingWrites>()
  private lastWrite = 0

  constructor (components: DatastoreRegistrationStoreComponents, init: DatastoreRegistrationStoreInit = {}) {
    this.datastore = components.datastore
    this.log = components.logger.forComponent('libp2p:rendezvous:server:datastore-store')
    this.prefix = init.prefix ?? '/rendezvous/registrations'
    this.memory = new MemoryRegistrationStore({
      ...init,
      onExpired: (registration) => {
        this.write(this.key(registration.peerId, registration.namespace), registration.peerId, registration.namespace, registration, undefined)
          .catch((err: Error) => { this.log.error('could not delete an expired registration - %e', err) })
      }
    })
  }

  async start (): Promise<void> {
    const now = Date.now()
    const live: Registration[] = []
    const expired: Key[] = []

    for await (const { key, value } of this.datastore.query({ prefix: this.prefix })) {
      try {
        const registration = fromStored(StoredRegistration.decode(value))

        if (registration.expiresAt > now) {
          live.push(registration)
        } else {
          expired.push(key)
        }
      } catch (err: any) {
        this.log.error('dropping unreadable registration %s - %e', key, err)
        expired.push(key)
      }
    }

    const batch = this.datastore.batch()
    expired.forEach(key => { batch.delete(key) })
    await batch.commit()

    this.memory.restore(live.sort((a, b) => a.sequence - b.sequence))
    this.memory.start()
    this.log('loaded %d registrations, dropped %d expired', this.memory.count(), expired.length)
  }

  /**
   * Stops the sweep and resolves once every write in flight has settled, so
   * the datastore can be closed
   */
  async stop (): Promise<void> {
    this.memory.stop()

    while (this.writes.size > 0) {
      await Promise.all([...this.writes.values()].map(async pending => pending.tail))
    }
  }

  count (): number {
    return this.memory.count()
  }

  hostsAtLimit (maxRegistrationsPerHost: number): number {
    return this.memory.hostsAtLimit(maxRegistrationsPerHost)
  }

  async put (registration: NewRegistration, limits: RegistrationLimits): Promise<Registration> {
    const key = this.key(registration.peerId, registration.namespace)
    // what the datastore holds for the key when no write of it is in flight
    const before = this.writes.has(key.toString()) ? undefined : this.memory.get(registration.peerId, registration.namespace)
    const stored = this.memory.putSync(registration, limits)

    try {
      await this.write(key, stored.peerId, stored.namespace, before, stored)
    } catch {
      // never acknowledge what a restart would lose
      throw new InternalError('could not store the registration')
    }

    return stored
  }

  async delete (peerId: string, namespace: string): Promise<void> {
    const key = this.key(peerId, namespace)
    const removed = this.memory.deleteSync(peerId, namespace)

    // nothing held and nothing on its way to the datastore: it holds nothing
    if (removed == null && !this.writes.has(key.toString())) {
      return
    }

    try {
      await this.write(key, peerId, namespace, removed, undefined)
    } catch {
      throw new InternalError('could not delete the registration')
    }
  }

  async discover (query: DiscoverQuery): Promise<DiscoverPage> {
    return this.memory.discover(query)
  }

  /**
   * `discover()` with the records as the strings the store holds in memory.
   * A subclass that changes `discover()` keeps its say over every page: this
   * then lists through it.
   */
  async discoverHeld (query: DiscoverQuery): Promise<DiscoverPage<HeldRegistration>> {
    if (this.discover !== DatastoreRegistrationStore.prototype.discover) {
      return this.discover(query)
    }

    return this.memory.discoverHeld(query)
  }

  holdsRecord (peerId: string, signedPeerRecord: Uint8Array, now: number): boolean {
    return this.memory.holdsRecord(peerId, signedPeerRecord, now)
  }

  /**
   * Writes the registration of (`peerId`, `namespace`), stored under `key`,
   * decided last, or deletes it when `decided` is undefined, once the writes
   * of the key decided earlier have settled. `before` is what memory held for
   * the key before this change.
   */
  private async write (key: Key, peerId: string, namespace: string, before: Registration | undefined, decided: Registration | undefined): Promise<void> {
    const id = key.toString()
    const write = ++this.lastWrite
    let pending = this.writes.get(id)

    if (pending == null) {
      // with no write in flight, memory and the datastore agree
      pending = { tail: Promise.resolve(), durable: before, last: write }
      this.writes.set(id, pending)
    }

    const writes = pending
    writes.last = write

    const done = writes.tail.then(async () => {
      try {
        if (decided == null) {
          await this.datastore.delete(key)
        } else {
          await this.datastore.put(key, StoredRegistration.encode(toStored(decided)))
        }

        writes.durable = decided
      } catch (err: any) {
        this.log.error('could not write the registration of %s in %s - %e', peerId, namespace, err)

        // a later change of the key is on its way and settles it; if there
        // is none, serve what a restart would bring back
        if (writes.last === write) {
          this.memory.deleteSync(peerId, namespace)

          if (writes.durable != null && writes.durable.expiresAt > Date.now()) {
            this.memory.putSync(writes.durable, NO_LIMITS)
          }
        }

        throw err
      } finally {
        if (writes.last === write) {
          this.writes.delete(id)
        }
      }
    })

    writes.tail = done.catch(() => {})

    return done
  }

  private key (peerId: string, namespace: string): Key {
    // namespaces may hold any character, keys may not
    return new Key(`${this.prefix}/${peerId}/${uint8ArrayToString(utf8.encode(namespace), 'base32')}`)
  }
}

function toStored (registration: Registration): StoredRegistration {
  return {
    peerId: registration.peerId,
    namespace: registration.namespace,
    signedPeerRecord: registration.signedPeerRecord,
    expiresAt: BigInt(registration.expiresAt),
    sequence: BigInt(registration.sequence),
    host: registration.host
  }
}

function fromStored (stored: StoredRegistration): Registration {
  const registration: Registration = {
    peerId: stored.peerId,
    namespace: stored.namespace,
    signedPeerRecord: stored.signedPeerRecord,
    expiresAt: Number(stored.expiresAt),
    sequence: Number(stored.sequence)
  }

  if (stored.host != null) {
    registration.host = stored.host
  }

  return registration
}

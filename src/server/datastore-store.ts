import { Key } from 'interface-datastore'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { InternalError } from '../errors.ts'
import { StoredRegistration } from '../pb/store.ts'
import { MemoryRegistrationStore } from './memory-store.ts'
import type { MemoryRegistrationStoreInit } from './memory-store.ts'
import type { DiscoverPage, DiscoverQuery, NewRegistration, Registration, RegistrationLimits, RegistrationStore } from './registration-store.ts'
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
 */
export class DatastoreRegistrationStore implements RegistrationStore {
  private readonly datastore: Datastore
  private readonly log: Logger
  private readonly prefix: string
  private readonly memory: MemoryRegistrationStore

  constructor (components: DatastoreRegistrationStoreComponents, init: DatastoreRegistrationStoreInit = {}) {
    this.datastore = components.datastore
    this.log = components.logger.forComponent('libp2p:rendezvous:server:datastore-store')
    this.prefix = init.prefix ?? '/rendezvous/registrations'
    this.memory = new MemoryRegistrationStore({
      ...init,
      onExpired: (registration) => {
        Promise.resolve(this.datastore.delete(this.key(registration.peerId, registration.namespace)))
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

  stop (): void {
    this.memory.stop()
  }

  count (): number {
    return this.memory.count()
  }

  async put (registration: NewRegistration, limits: RegistrationLimits): Promise<Registration> {
    const stored = await this.memory.put(registration, limits)

    try {
      await this.datastore.put(this.key(stored.peerId, stored.namespace), StoredRegistration.encode(toStored(stored)))
    } catch (err: any) {
      // never acknowledge what a restart would lose
      this.log.error('could not write a registration - %e', err)
      await this.memory.delete(stored.peerId, stored.namespace)
      throw new InternalError('could not store the registration')
    }

    return stored
  }

  async delete (peerId: string, namespace: string): Promise<void> {
    await this.memory.delete(peerId, namespace)
    await this.datastore.delete(this.key(peerId, namespace))
  }

  async discover (query: DiscoverQuery): Promise<DiscoverPage> {
    return this.memory.discover(query)
  }

  holdsRecord (peerId: string, signedPeerRecord: Uint8Array, now: number): boolean {
    return this.memory.holdsRecord(peerId, signedPeerRecord, now)
  }

  private key (peerId: string, namespace: string): Key {
    // namespaces may hold any character, keys may not
    return new Key(`${this.prefix}/${peerId}/${uint8ArrayToString(new TextEncoder().encode(namespace), 'base32')}`)
  }
}

function toStored (registration: Registration): StoredRegistration {
  return {
    peerId: registration.peerId,
    namespace: registration.namespace,
    signedPeerRecord: registration.signedPeerRecord,
    expiresAt: BigInt(registration.expiresAt),
    sequence: BigInt(registration.sequence)
  }
}

function fromStored (stored: StoredRegistration): Registration {
  return {
    peerId: stored.peerId,
    namespace: stored.namespace,
    signedPeerRecord: stored.signedPeerRecord,
    expiresAt: Number(stored.expiresAt),
    sequence: Number(stored.sequence)
  }
}

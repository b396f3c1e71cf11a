import { expect } from 'aegir/chai'
import sinon from 'sinon'
import { DEFAULT_EXPIRY_INTERVAL, EXPIRY_BATCH_SIZE, MAX_EXPIRED_PER_DISCOVER, NAMESPACE_OVERHEAD_BYTES, REGISTRATION_OVERHEAD_BYTES } from '../../src/constants.ts'
import { InvalidOptionError, NotAuthorizedError, UnavailableError } from '../../src/errors.ts'
import { MemoryRegistrationStore } from '../../src/server/memory-store.ts'
import type { NewRegistration, Registration, RegistrationLimits } from '../../src/server/registration-store.ts'

/**
 * The fake clock starts here, in ms since the epoch
 */
const NOW = 1_700_000_000_000

const TTL = 60_000

const LIMITS: RegistrationLimits = {
  maxRegistrationsPerPeer: 1000,
  maxRegistrations: 1_000_000,
  maxStoreBytes: 1024 ** 3,
  maxRegistrationsPerHost: 1_000_000
}

const RECORD = Uint8Array.from([1, 2, 3, 4])

function registration (peerId: string, namespace: string, expiresAt: number = Date.now() + TTL): NewRegistration {
  return { peerId, namespace, signedPeerRecord: RECORD, expiresAt }
}

function key (r: Registration): string {
  return `${r.peerId}/${r.namespace}`
}

describe('memory registration store', () => {
  let clock: sinon.SinonFakeTimers
  let store: MemoryRegistrationStore

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: NOW })
    store = new MemoryRegistrationStore()
  })

  afterEach(() => {
    store.stop()
    clock.restore()
  })

  async function everything (namespace?: string, now = Date.now()): Promise<Registration[]> {
    const page = await store.discover({ namespace, after: 0, limit: Number.MAX_SAFE_INTEGER, now })
    return page.registrations
  }

  describe('put', () => {
    it('answers at once: the registration, or the refusal thrown, never a promise', () => {
      // the point answers a REGISTER without waiting a turn only then
      const written = store.put(registration('peer-a', 'ns'), LIMITS)
      expect(written).to.not.be.an.instanceOf(Promise)
      expect(written).to.have.property('peerId', 'peer-a')
      expect(() => store.put(registration('peer-a', 'other'), { ...LIMITS, maxRegistrationsPerPeer: 1 })).to.throw(NotAuthorizedError)
    })

    it('returns the registration with a sequence', async () => {
      const put = await store.put(registration('peer-a', 'ns', NOW + 5000), LIMITS)

      expect(put).to.have.all.keys('peerId', 'namespace', 'signedPeerRecord', 'expiresAt', 'sequence')
      expect(put.peerId).to.equal('peer-a')
      expect(put.namespace).to.equal('ns')
      expect(put.signedPeerRecord).to.deep.equal(RECORD)
      expect(put.expiresAt).to.equal(NOW + 5000)
      expect(put.sequence).to.be.a('number')
      expect(store.count()).to.equal(1)
    })

    it('returns increasing sequences', async () => {
      const sequences: number[] = []

      for (let i = 0; i < 50; i++) {
        sequences.push((await store.put(registration(`peer-${i % 7}`, `ns-${i}`), LIMITS)).sequence)
      }

      for (let i = 1; i < sequences.length; i++) {
        expect(sequences[i]).to.be.greaterThan(sequences[i - 1])
      }
    })

    it('starts sequences at the clock in µs, so a new store continues after an old one', async () => {
      const first = await store.put(registration('peer-a', 'ns'), LIMITS)
      expect(first.sequence).to.be.at.least(NOW * 1000)

      const earlier: number[] = [first.sequence]

      for (let i = 0; i < 100; i++) {
        earlier.push((await store.put(registration(`peer-${i}`, 'ns'), LIMITS)).sequence)
      }

      // a restart 1 ms later
      clock.tick(1)
      const restarted = new MemoryRegistrationStore()
      const later = await restarted.put(registration('peer-a', 'ns'), LIMITS)

      expect(later.sequence).to.be.greaterThan(Math.max(...earlier))
    })

    it('keeps sequences increasing when the clock goes back', async () => {
      const before = await store.put(registration('peer-a', 'ns', NOW + 10 * TTL), LIMITS)

      clock.setSystemTime(NOW - 3_600_000)
      const after = await store.put(registration('peer-b', 'ns', NOW + 10 * TTL), LIMITS)

      expect(after.sequence).to.be.greaterThan(before.sequence)
    })

    it('replaces the registration of the same peer and namespace with a new sequence', async () => {
      const first = await store.put(registration('peer-a', 'ns', NOW + 1000), LIMITS)
      const other = await store.put(registration('peer-b', 'ns', NOW + 1000), LIMITS)
      const refreshed = await store.put({ ...registration('peer-a', 'ns', NOW + 9000), signedPeerRecord: Uint8Array.from([9]) }, LIMITS)

      expect(refreshed.sequence).to.be.greaterThan(other.sequence)
      expect(store.count()).to.equal(2)

      const listed = await everything('ns')
      expect(listed.map(key)).to.deep.equal(['peer-b/ns', 'peer-a/ns'])
      expect(listed[1]).to.deep.equal(refreshed)
      expect(listed[1].expiresAt).to.equal(NOW + 9000)
      expect(listed[1].signedPeerRecord).to.deep.equal(Uint8Array.from([9]))

      // the refresh shows up again for a client that already saw the first
      const page = await store.discover({ namespace: 'ns', after: first.sequence, limit: 10, now: NOW })
      expect(page.registrations.map(key)).to.deep.equal(['peer-b/ns', 'peer-a/ns'])

      // and once across namespaces
      expect((await everything()).map(key)).to.deep.equal(['peer-b/ns', 'peer-a/ns'])
    })

    it('refreshes one registration again and again, its record changing or not, and leaves nothing behind when it goes', async () => {
      const other = Uint8Array.from([9, 9])
      await store.put({ ...registration('peer-a', 'ns'), host: 'host-1' }, LIMITS)
      await store.put({ ...registration('peer-b', 'ns'), host: 'host-1' }, LIMITS)

      for (let i = 0; i < 6; i++) {
        clock.tick(1000)
        await store.put({ ...registration('peer-a', 'ns'), signedPeerRecord: i % 3 === 0 ? other : RECORD, host: 'host-1' }, LIMITS)
      }

      // the last refresh wrote RECORD
      expect(store.count()).to.equal(2)
      expect(store.bytes()).to.equal(2 * (RECORD.byteLength + REGISTRATION_OVERHEAD_BYTES) + NAMESPACE_OVERHEAD_BYTES + 'ns'.length)
      expect(store.hostsAtLimit(2)).to.equal(1)
      expect(store.holdsRecord('peer-a', RECORD, Date.now())).to.be.true()
      expect(store.holdsRecord('peer-a', other, Date.now())).to.be.false()
      expect((await everything('ns')).map(r => [key(r), r.expiresAt])).to.deep.equal([['peer-b/ns', NOW + TTL], ['peer-a/ns', Date.now() + TTL]])
      // expiry follows the last refresh: peer-b goes first
      clock.tick(TTL - 6000)
      expect(store.removeExpired(Date.now(), 10)).to.equal(1)
      expect((await everything('ns')).map(key)).to.deep.equal(['peer-a/ns'])

      await store.delete('peer-a', 'ns')
      expect(store.count()).to.equal(0)
      expect(store.bytes()).to.equal(0)
      expect(store.hostsAtLimit(1)).to.equal(0)
      expect(await everything()).to.deep.equal([])
    })

    it('forgets the peer, host and namespace of a deleted registration at the next sweep, not at once', async () => {
      // keys of the maps by peer, host and namespace, vacant ones included
      const keysHeld = (): number => {
        const maps = store as unknown as Record<'byHost' | 'byNamespace', { entries: Map<string, unknown> }> & { byPeer: Array<{ entries: Map<string, unknown> }> }
        return [maps.byHost, maps.byNamespace, ...maps.byPeer].reduce((keys, map) => keys + map.entries.size, 0)
      }

      store.start()
      await store.put({ ...registration('peer-a', 'ns-a'), host: 'host-a' }, LIMITS)
      await store.delete('peer-a', 'ns-a')

      // registering again finds them
      expect(keysHeld()).to.equal(3)
      await store.put({ ...registration('peer-a', 'ns-a'), host: 'host-a' }, LIMITS)
      await store.delete('peer-a', 'ns-a')
      expect(keysHeld()).to.equal(3)
      expect(store.hostsAtLimit(1)).to.equal(0)
      expect(await everything()).to.deep.equal([])

      await clock.tickAsync(DEFAULT_EXPIRY_INTERVAL)
      expect(keysHeld()).to.equal(0)
    })

    it('keeps a peer in several namespaces apart', async () => {
      await store.put(registration('peer-a', 'ns-1'), LIMITS)
      await store.put(registration('peer-a', 'ns-2'), LIMITS)
      await store.put(registration('peer-a', 'ns-1'), LIMITS)

      expect(store.count()).to.equal(2)
      expect((await everything()).map(key)).to.deep.equal(['peer-a/ns-2', 'peer-a/ns-1'])
    })

    it('finds, refreshes and deletes a peer\'s registrations as it goes from one namespace to several and back', async () => {
      for (const namespace of ['ns-1', 'ns-2', 'ns-3']) {
        await store.put(registration('peer-a', namespace), LIMITS)
      }

      await store.delete('peer-a', 'ns-1')
      await store.delete('peer-a', 'ns-3')
      const refreshed = await store.put(registration('peer-a', 'ns-2'), { ...LIMITS, maxRegistrationsPerPeer: 1 })

      expect(store.count()).to.equal(1)
      expect(await everything()).to.deep.equal([refreshed])
      expect(() => store.put(registration('peer-a', 'ns-4'), { ...LIMITS, maxRegistrationsPerPeer: 1 })).to.throw().with.property('name', NotAuthorizedError.name)

      await store.delete('peer-a', 'ns-2')
      expect(store.count()).to.equal(0)
      await store.put(registration('peer-a', 'ns-4'), { ...LIMITS, maxRegistrationsPerPeer: 1 })
      expect((await everything()).map(key)).to.deep.equal(['peer-a/ns-4'])
    })

    it('keeps every byte of a record, of any length', async () => {
      const everyByte = Uint8Array.from({ length: 256 }, (_, i) => i)
      const long = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff)

      await store.put({ ...registration('peer-a', 'ns'), signedPeerRecord: everyByte }, LIMITS)
      await store.put({ ...registration('peer-b', 'ns'), signedPeerRecord: long }, LIMITS)

      expect((await everything('ns')).map(r => r.signedPeerRecord)).to.deep.equal([everyByte, long])
    })

    it('does not share state with the registrations it returns', async () => {
      const put = await store.put(registration('peer-a', 'ns', NOW + 5000), LIMITS)
      put.expiresAt = 0
      put.sequence = 0

      const [listed] = await everything('ns')
      expect(listed.expiresAt).to.equal(NOW + 5000)
      expect(listed.sequence).to.be.greaterThan(0)

      listed.expiresAt = 0
      expect((await everything('ns'))[0].expiresAt).to.equal(NOW + 5000)
    })
  })

  describe('caps', () => {
    it('throws NotAuthorizedError past maxRegistrationsPerPeer', async () => {
      const limits = { ...LIMITS, maxRegistrationsPerPeer: 2 }

      await store.put(registration('peer-a', 'ns-1'), limits)
      await store.put(registration('peer-a', 'ns-2'), limits)

      expect(() => store.put(registration('peer-a', 'ns-3'), limits)).to.throw(NotAuthorizedError)

      expect(store.count()).to.equal(2)
      expect(await everything('ns-3')).to.be.empty()

      // other peers are not affected
      await store.put(registration('peer-b', 'ns-3'), limits)
      expect(store.count()).to.equal(3)
    })

    it('throws UnavailableError past maxRegistrations', async () => {
      const limits = { ...LIMITS, maxRegistrations: 3 }

      await store.put(registration('peer-a', 'ns'), limits)
      await store.put(registration('peer-b', 'ns'), limits)
      await store.put(registration('peer-c', 'ns'), limits)

      expect(() => store.put(registration('peer-d', 'ns'), limits)).to.throw(UnavailableError)
      expect(() => store.put(registration('peer-a', 'other'), limits)).to.throw(UnavailableError)

      expect(store.count()).to.equal(3)
      expect((await everything()).map(key)).to.deep.equal(['peer-a/ns', 'peer-b/ns', 'peer-c/ns'])
    })

    it('always allows a refresh of an existing registration, even at both caps', async () => {
      const limits = { maxRegistrationsPerPeer: 1, maxRegistrations: 1, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }
      const first = await store.put(registration('peer-a', 'ns', NOW + 1000), limits)

      const refreshed = await store.put(registration('peer-a', 'ns', NOW + 2000), limits)

      expect(refreshed.sequence).to.be.greaterThan(first.sequence)
      expect(store.count()).to.equal(1)
      expect(await everything()).to.deep.equal([refreshed])

      expect(() => store.put(registration('peer-a', 'other'), limits)).to.throw(NotAuthorizedError)
      expect(() => store.put(registration('peer-b', 'ns'), limits)).to.throw(UnavailableError)
    })

    it('frees a slot when a registration is deleted', async () => {
      const limits = { maxRegistrationsPerPeer: 1, maxRegistrations: 2, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }

      await store.put(registration('peer-a', 'ns-1'), limits)
      expect(() => store.put(registration('peer-a', 'ns-2'), limits)).to.throw(NotAuthorizedError)

      await store.delete('peer-a', 'ns-1')
      await store.put(registration('peer-a', 'ns-2'), limits)

      expect((await everything()).map(key)).to.deep.equal(['peer-a/ns-2'])
    })

    it('does not count expired registrations against maxRegistrationsPerPeer', async () => {
      const limits = { ...LIMITS, maxRegistrationsPerPeer: 1 }

      await store.put(registration('peer-a', 'ns-1', NOW + 100), limits)
      expect(() => store.put(registration('peer-a', 'ns-2'), limits)).to.throw(NotAuthorizedError)

      // expiresAt <= now is expired
      clock.tick(100)

      const put = await store.put(registration('peer-a', 'ns-2'), limits)

      expect(store.count()).to.equal(1)
      expect(await everything()).to.deep.equal([put])
    })

    it('does not count expired registrations against maxRegistrations', async () => {
      const limits = { ...LIMITS, maxRegistrations: 2 }

      await store.put(registration('peer-a', 'ns', NOW + 100), limits)
      await store.put(registration('peer-b', 'ns', NOW + 5000), limits)
      expect(() => store.put(registration('peer-c', 'ns'), limits)).to.throw(UnavailableError)

      clock.tick(100)

      await store.put(registration('peer-c', 'ns'), limits)

      expect(store.count()).to.equal(2)
      expect((await everything()).map(key)).to.deep.equal(['peer-b/ns', 'peer-c/ns'])
    })

    it('leaves expired registrations to the sweep, reclaiming one only when the store is full', async () => {
      for (let i = 0; i < 5; i++) {
        await store.put(registration(`peer-${i}`, 'ns', NOW + 100), LIMITS)
      }

      clock.tick(300)

      await store.put(registration('peer-x', 'ns'), { ...LIMITS, maxRegistrations: 6 })
      expect(store.count()).to.equal(6)

      await store.put(registration('peer-y', 'ns'), { ...LIMITS, maxRegistrations: 6 })
      expect(store.count()).to.equal(6)
      expect((await everything('ns')).map(key)).to.deep.equal(['peer-x/ns', 'peer-y/ns'])
    })

    it('treats a refresh of an expired registration as a new one', async () => {
      const limits = { ...LIMITS, maxRegistrations: 1 }

      await store.put(registration('peer-a', 'ns', NOW + 100), limits)
      clock.tick(100)
      await store.put(registration('peer-b', 'ns'), limits)

      // peer-a's registration lapsed and its slot is taken
      expect(() => store.put(registration('peer-a', 'ns'), limits)).to.throw(UnavailableError)
    })
  })

  describe('byte budget', () => {
    /**
     * A registration of `peerId` in `namespace` with a record of `size` bytes
     */
    function sized (peerId: string, namespace: string, size: number, expiresAt?: number): NewRegistration {
      return { ...registration(peerId, namespace, expiresAt), signedPeerRecord: new Uint8Array(size) }
    }

    it('counts each record plus the overhead of a registration, and each namespace once', async () => {
      await store.put(sized('peer-a', 'ns', 100), LIMITS)
      await store.put(sized('peer-b', 'ns', 200), LIMITS)
      await store.put(sized('peer-a', 'ünï', 50), LIMITS)

      const namespaces = 2 * NAMESPACE_OVERHEAD_BYTES + 'ns'.length + 'ünï'.length + 2
      expect(store.bytes()).to.equal(350 + 3 * REGISTRATION_OVERHEAD_BYTES + namespaces)

      await store.put(sized('peer-a', 'ns', 10), LIMITS)
      expect(store.bytes()).to.equal(260 + 3 * REGISTRATION_OVERHEAD_BYTES + namespaces)

      await store.delete('peer-a', 'ünï')
      await store.delete('peer-b', 'ns')
      expect(store.bytes()).to.equal(10 + REGISTRATION_OVERHEAD_BYTES + NAMESPACE_OVERHEAD_BYTES + 2)

      clock.tick(TTL)
      store.removeExpired(Date.now(), 10)
      expect(store.bytes()).to.equal(0)
    })

    it('refuses a registration past maxStoreBytes with UnavailableError, and leaves the store as it was', async () => {
      const cost = (size: number): number => size + REGISTRATION_OVERHEAD_BYTES
      const limits = { ...LIMITS, maxStoreBytes: cost(1000) + cost(500) + NAMESPACE_OVERHEAD_BYTES + 2 }

      await store.put(sized('peer-a', 'ns', 1000), limits)
      await store.put(sized('peer-b', 'ns', 500), limits)
      const bytes = store.bytes()

      expect(() => store.put(sized('peer-c', 'ns', 1), limits)).to.throw(UnavailableError, `its registrations may take at most ${limits.maxStoreBytes} bytes`)
      // a namespace of its own costs more still
      expect(() => store.put(sized('peer-b', 'other', 1), limits)).to.throw(UnavailableError)

      expect(store.bytes()).to.equal(bytes)
      expect((await everything()).map(key)).to.deep.equal(['peer-a/ns', 'peer-b/ns'])
    })

    it('lets a refresh through when its record is no larger, and refuses one that grows past the budget, keeping the registration it would replace', async () => {
      const limits = { ...LIMITS, maxStoreBytes: 2 * (1000 + REGISTRATION_OVERHEAD_BYTES) + NAMESPACE_OVERHEAD_BYTES + 2 }
      await store.put(sized('peer-a', 'ns', 1000), limits)
      await store.put(sized('peer-b', 'ns', 1000), limits)

      const same = await store.put(sized('peer-a', 'ns', 1000), limits)
      const smaller = await store.put(sized('peer-b', 'ns', 900), limits)

      // 100 bytes are free now: peer-a may grow by as much, not more
      expect(() => store.put(sized('peer-a', 'ns', 1101), limits)).to.throw(UnavailableError)
      expect(await everything()).to.deep.equal([same, smaller])

      const grown = await store.put(sized('peer-a', 'ns', 1100), limits)
      expect(store.bytes()).to.equal(limits.maxStoreBytes)
      expect(await everything()).to.deep.equal([smaller, grown])
    })

    it('reclaims expired registrations to make room, as many as it takes', async () => {
      const limits = { ...LIMITS, maxStoreBytes: 4 * (100 + REGISTRATION_OVERHEAD_BYTES) + NAMESPACE_OVERHEAD_BYTES + 2 }

      for (const peer of ['peer-a', 'peer-b', 'peer-c']) {
        await store.put(sized(peer, 'ns', 100, NOW + 100), limits)
      }

      await store.put(sized('peer-d', 'ns', 100), limits)
      clock.tick(100)

      // needs the room of two expired registrations, not three
      await store.put(sized('peer-e', 'ns', 100 + 100 + REGISTRATION_OVERHEAD_BYTES), limits)
      expect(store.count()).to.equal(3)
      expect((await everything()).map(key)).to.deep.equal(['peer-d/ns', 'peer-e/ns'])
    })
  })

  describe('delete', () => {
    it('removes a registration from its namespace and from the whole store', async () => {
      await store.put(registration('peer-a', 'ns-1'), LIMITS)
      await store.put(registration('peer-a', 'ns-2'), LIMITS)
      await store.put(registration('peer-b', 'ns-1'), LIMITS)

      await store.delete('peer-a', 'ns-1')

      expect(store.count()).to.equal(2)
      expect((await everything('ns-1')).map(key)).to.deep.equal(['peer-b/ns-1'])
      expect((await everything('ns-2')).map(key)).to.deep.equal(['peer-a/ns-2'])
      expect((await everything()).map(key)).to.deep.equal(['peer-a/ns-2', 'peer-b/ns-1'])
    })

    it('removes the last registration of a namespace', async () => {
      await store.put(registration('peer-a', 'ns'), LIMITS)
      await store.delete('peer-a', 'ns')

      expect(store.count()).to.equal(0)
      expect(await everything('ns')).to.be.empty()
      expect(await everything()).to.be.empty()

      // and the namespace can be used again
      await store.put(registration('peer-b', 'ns'), LIMITS)
      expect((await everything('ns')).map(key)).to.deep.equal(['peer-b/ns'])
    })

    it('is a no-op for an unknown registration', async () => {
      await store.put(registration('peer-a', 'ns'), LIMITS)

      await store.delete('peer-b', 'ns')
      await store.delete('peer-a', 'other')
      await store.delete('nobody', 'nowhere')

      expect(store.count()).to.equal(1)
      expect((await everything()).map(key)).to.deep.equal(['peer-a/ns'])
    })

    it('is a no-op when deleting twice', async () => {
      await store.put(registration('peer-a', 'ns'), LIMITS)
      await store.put(registration('peer-b', 'ns'), LIMITS)

      await store.delete('peer-a', 'ns')
      await store.delete('peer-a', 'ns')

      expect(store.count()).to.equal(1)
      expect((await everything()).map(key)).to.deep.equal(['peer-b/ns'])
    })
  })

  describe('holdsRecord', () => {
    const OTHER = Uint8Array.from([1, 2, 3, 5])

    it('holds a record byte for byte, for its peer, in any of its namespaces, while live', async () => {
      await store.put(registration('peer-a', 'ns-1', NOW + 100), LIMITS)
      await store.put({ ...registration('peer-a', 'ns-2', NOW + 200), signedPeerRecord: OTHER }, LIMITS)

      expect(store.holdsRecord('peer-a', RECORD, NOW)).to.be.true()
      expect(store.holdsRecord('peer-a', OTHER, NOW)).to.be.true()
      // another peer, another length, another byte
      expect(store.holdsRecord('peer-b', RECORD, NOW)).to.be.false()
      expect(store.holdsRecord('peer-a', RECORD.subarray(0, 3), NOW)).to.be.false()
      expect(store.holdsRecord('peer-a', Uint8Array.from([1, 2, 3, 6]), NOW)).to.be.false()

      // ns-1 lapses at NOW + 100, not yet reclaimed; ns-2 at NOW + 200
      expect(store.holdsRecord('peer-a', RECORD, NOW + 100)).to.be.false()
      expect(store.holdsRecord('peer-a', OTHER, NOW + 100)).to.be.true()
      expect(store.holdsRecord('peer-a', OTHER, NOW + 200)).to.be.false()
    })

    it('no longer holds a record once its registrations are deleted or replaced', async () => {
      await store.put(registration('peer-a', 'ns'), LIMITS)
      await store.put({ ...registration('peer-a', 'ns'), signedPeerRecord: OTHER }, LIMITS)
      expect(store.holdsRecord('peer-a', RECORD, NOW)).to.be.false()

      await store.delete('peer-a', 'ns')
      expect(store.holdsRecord('peer-a', OTHER, NOW)).to.be.false()
    })
  })

  describe('discover', () => {
    let a1: Registration
    let b2: Registration
    let c1: Registration
    let d2: Registration
    let e1: Registration

    beforeEach(async () => {
      a1 = await store.put(registration('peer-a', 'ns-1'), LIMITS)
      b2 = await store.put(registration('peer-b', 'ns-2'), LIMITS)
      c1 = await store.put(registration('peer-c', 'ns-1'), LIMITS)
      d2 = await store.put(registration('peer-d', 'ns-2'), LIMITS)
      e1 = await store.put(registration('peer-e', 'ns-1'), LIMITS)
    })

    it('lists with discoverHeld the records as the strings it holds, the page of discover', async () => {
      const held = await store.discoverHeld({ namespace: 'ns-1', after: 0, limit: 2, now: NOW })

      expect(held.registrations).to.deep.equal([a1, c1].map(({ namespace, expiresAt }) => ({ namespace, expiresAt, signedPeerRecord: '\x01\x02\x03\x04' })))
      expect(held.cursor).to.equal(c1.sequence)
    })

    it('lists with discoverHeld through the discover of a subclass that changes it', async () => {
      class Filtered extends MemoryRegistrationStore {
        async discover (...args: Parameters<MemoryRegistrationStore['discover']>): ReturnType<MemoryRegistrationStore['discover']> {
          const page = await super.discover(...args)
          return { ...page, registrations: page.registrations.filter(registration => registration.peerId !== 'peer-c') }
        }
      }

      const filtered = new Filtered()
      await filtered.put(registration('peer-a', 'ns-1'), LIMITS)
      const c = await filtered.put(registration('peer-c', 'ns-1'), LIMITS)

      const held = await filtered.discoverHeld({ namespace: 'ns-1', after: 0, limit: 10, now: NOW })
      expect(held.registrations.map(registration => (registration as Registration).peerId)).to.deep.equal(['peer-a'])
      expect(held.cursor).to.equal(c.sequence)
      filtered.stop()
    })

    it('lists one namespace in sequence order', async () => {
      const page = await store.discover({ namespace: 'ns-1', after: 0, limit: 100, now: NOW })

      expect(page.registrations).to.deep.equal([a1, c1, e1])
      expect(page.cursor).to.equal(e1.sequence)
    })

    it('lists every namespace when the namespace is undefined', async () => {
      const page = await store.discover({ after: 0, limit: 100, now: NOW })

      expect(page.registrations).to.deep.equal([a1, b2, c1, d2, e1])
      expect(page.cursor).to.equal(e1.sequence)
    })

    it('lists nothing for an unknown namespace, keeping the cursor', async () => {
      const page = await store.discover({ namespace: 'ns-3', after: 1234, limit: 100, now: NOW })

      expect(page.registrations).to.be.empty()
      expect(page.cursor).to.equal(1234)
    })

    it('lists only registrations after a sequence', async () => {
      expect((await store.discover({ namespace: 'ns-1', after: a1.sequence, limit: 100, now: NOW })).registrations)
        .to.deep.equal([c1, e1])
      // a sequence from another namespace, between entries of this one
      expect((await store.discover({ namespace: 'ns-1', after: b2.sequence, limit: 100, now: NOW })).registrations)
        .to.deep.equal([c1, e1])
      expect((await store.discover({ after: c1.sequence, limit: 100, now: NOW })).registrations)
        .to.deep.equal([d2, e1])
    })

    it('keeps the cursor when there is nothing new', async () => {
      const page = await store.discover({ namespace: 'ns-1', after: e1.sequence, limit: 100, now: NOW })

      expect(page.registrations).to.be.empty()
      expect(page.cursor).to.equal(e1.sequence)

      // nothing new in ns-2 after d2, though ns-1 has e1 after it
      const other = await store.discover({ namespace: 'ns-2', after: d2.sequence, limit: 100, now: NOW })

      expect(other.registrations).to.be.empty()
      expect(other.cursor).to.equal(d2.sequence)
    })

    it('returns at most limit registrations, with the cursor at the last one returned', async () => {
      const first = await store.discover({ after: 0, limit: 2, now: NOW })

      expect(first.registrations).to.deep.equal([a1, b2])
      expect(first.cursor).to.equal(b2.sequence)

      const second = await store.discover({ after: first.cursor, limit: 2, now: NOW })

      expect(second.registrations).to.deep.equal([c1, d2])
      expect(second.cursor).to.equal(d2.sequence)

      const third = await store.discover({ after: second.cursor, limit: 2, now: NOW })

      expect(third.registrations).to.deep.equal([e1])
      expect(third.cursor).to.equal(e1.sequence)

      const fourth = await store.discover({ after: third.cursor, limit: 2, now: NOW })

      expect(fourth.registrations).to.be.empty()
      expect(fourth.cursor).to.equal(e1.sequence)
    })

    it('returns nothing for a limit of 0, keeping the cursor', async () => {
      const page = await store.discover({ namespace: 'ns-1', after: a1.sequence, limit: 0, now: NOW })

      expect(page.registrations).to.be.empty()
      expect(page.cursor).to.equal(a1.sequence)
    })

    it('pages through new registrations with the cursor', async () => {
      const seen = await store.discover({ namespace: 'ns-2', after: 0, limit: 100, now: NOW })
      const f2 = await store.put(registration('peer-f', 'ns-2'), LIMITS)
      await store.put(registration('peer-g', 'ns-1'), LIMITS)

      const next = await store.discover({ namespace: 'ns-2', after: seen.cursor, limit: 100, now: NOW })

      expect(next.registrations).to.deep.equal([f2])
      expect(next.cursor).to.equal(f2.sequence)
    })

    it('skips deleted registrations', async () => {
      await store.delete('peer-c', 'ns-1')

      expect((await store.discover({ namespace: 'ns-1', after: a1.sequence, limit: 100, now: NOW })).registrations)
        .to.deep.equal([e1])
      expect((await store.discover({ after: b2.sequence, limit: 100, now: NOW })).registrations)
        .to.deep.equal([d2, e1])
    })
  })

  describe('expired registrations in discover', () => {
    it('never returns a registration with expiresAt <= now', async () => {
      const r = await store.put(registration('peer-a', 'ns', NOW + 1000), LIMITS)

      expect((await store.discover({ namespace: 'ns', after: 0, limit: 10, now: NOW + 999 })).registrations).to.deep.equal([r])
      expect((await store.discover({ namespace: 'ns', after: 0, limit: 10, now: NOW + 1000 })).registrations).to.be.empty()
      expect((await store.discover({ after: 0, limit: 10, now: NOW + 1000 })).registrations).to.be.empty()
      expect((await store.discover({ namespace: 'ns', after: 0, limit: 10, now: NOW + 5000 })).registrations).to.be.empty()

      // not reclaimed yet, just not served
      expect(store.count()).to.equal(1)
    })

    it('skips expired registrations within a page and fills the page with live ones', async () => {
      const live1 = await store.put(registration('peer-1', 'ns', NOW + 10_000), LIMITS)
      await store.put(registration('peer-2', 'ns', NOW + 100), LIMITS)
      await store.put(registration('peer-3', 'ns', NOW + 100), LIMITS)
      const live2 = await store.put(registration('peer-4', 'ns', NOW + 10_000), LIMITS)
      const live3 = await store.put(registration('peer-5', 'ns', NOW + 10_000), LIMITS)

      const page = await store.discover({ namespace: 'ns', after: 0, limit: 2, now: NOW + 500 })

      expect(page.registrations).to.deep.equal([live1, live2])
      expect(page.cursor).to.equal(live2.sequence)

      const rest = await store.discover({ namespace: 'ns', after: page.cursor, limit: 2, now: NOW + 500 })

      expect(rest.registrations).to.deep.equal([live3])
      expect(rest.cursor).to.equal(live3.sequence)
    })

    it('moves the cursor past expired registrations it visited', async () => {
      const live = await store.put(registration('peer-1', 'ns', NOW + 10_000), LIMITS)
      await store.put(registration('peer-2', 'ns', NOW + 100), LIMITS)
      const lastExpired = await store.put(registration('peer-3', 'ns', NOW + 100), LIMITS)

      const page = await store.discover({ namespace: 'ns', after: 0, limit: 10, now: NOW + 500 })

      expect(page.registrations).to.deep.equal([live])
      expect(page.cursor).to.equal(lastExpired.sequence)

      const onlyExpired = await store.discover({ namespace: 'ns', after: live.sequence, limit: 10, now: NOW + 500 })

      expect(onlyExpired.registrations).to.be.empty()
      expect(onlyExpired.cursor).to.equal(lastExpired.sequence)
    })
  })

  describe('after a mass expiry, before the sweep', () => {
    it('walks past at most MAX_EXPIRED_PER_DISCOVER expired registrations, and the cursor leads on to the live ones', async () => {
      for (let i = 0; i < MAX_EXPIRED_PER_DISCOVER + 10; i++) {
        await store.put(registration(`expired-${i}`, 'ns', NOW + 100), LIMITS)
      }

      const live = await store.put(registration('peer-live', 'ns', NOW + 10_000), LIMITS)
      const now = NOW + 500

      const first = await store.discover({ namespace: 'ns', after: 0, limit: 10, now })
      expect(first.registrations).to.be.empty()

      const next = await store.discover({ namespace: 'ns', after: first.cursor, limit: 10, now })
      expect(next.registrations).to.deep.equal([live])
      expect(next.cursor).to.equal(live.sequence)
    })
  })

  describe('removeExpired', () => {
    let registrations: Registration[]

    beforeEach(async () => {
      // sequence order differs from expiry order
      registrations = []

      for (const [peer, expiresAt] of [['p30', 30], ['p10', 10], ['p50', 50], ['p20', 20], ['p40', 40]] as const) {
        registrations.push(await store.put(registration(peer, 'ns', NOW + expiresAt), LIMITS))
      }
    })

    async function remaining (): Promise<string[]> {
      // list with a time before anything expired, so nothing is filtered out
      return (await everything(undefined, NOW)).map(r => r.peerId)
    }

    it('removes at most max registrations in expiry order and returns the count', async () => {
      expect(store.removeExpired(NOW + 35, 2)).to.equal(2)
      expect(store.count()).to.equal(3)
      expect(await remaining()).to.deep.equal(['p30', 'p50', 'p40'])

      expect(store.removeExpired(NOW + 35, 10)).to.equal(1)
      expect(store.count()).to.equal(2)
      expect(await remaining()).to.deep.equal(['p50', 'p40'])

      expect(store.removeExpired(NOW + 35, 10)).to.equal(0)
      expect(store.count()).to.equal(2)
    })

    it('removes registrations that expire exactly at now', async () => {
      expect(store.removeExpired(NOW + 20, 10)).to.equal(2)
      expect(await remaining()).to.deep.equal(['p30', 'p50', 'p40'])
    })

    it('removes nothing before anything expired', async () => {
      expect(store.removeExpired(NOW + 9, 10)).to.equal(0)
      expect(store.count()).to.equal(5)
    })

    it('removes nothing with a max of 0', async () => {
      expect(store.removeExpired(NOW + 1000, 0)).to.equal(0)
      expect(store.count()).to.equal(5)
    })

    it('removes everything that expired', async () => {
      expect(store.removeExpired(NOW + 1000, 100)).to.equal(5)
      expect(store.count()).to.equal(0)
      expect(await remaining()).to.be.empty()
      expect(await everything('ns', NOW)).to.be.empty()
    })

    it('does not remove a refreshed registration at its old expiry', async () => {
      await store.put(registration('p10', 'ns', NOW + 500), LIMITS)

      expect(store.removeExpired(NOW + 10, 10)).to.equal(0)
      expect(store.count()).to.equal(5)
      expect(store.removeExpired(NOW + 500, 10)).to.equal(5)
    })

    it('leaves the caps usable after removal', async () => {
      store.removeExpired(NOW + 1000, 100)

      const limits = { maxRegistrationsPerPeer: 1, maxRegistrations: 1, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }
      await store.put(registration('p10', 'other'), limits)

      expect(store.count()).to.equal(1)
    })
  })

  describe('sweep', () => {
    it('refuses an expiryInterval that is not a positive integer a timer can wait for, naming it', () => {
      for (const expiryInterval of [0, -1, 1.5, 2 ** 31, Number.NaN]) {
        expect(() => new MemoryRegistrationStore({ expiryInterval }), String(expiryInterval)).to.throw(InvalidOptionError).with.property('option', 'expiryInterval')
      }
    })

    it('reclaims expired registrations every expiryInterval once started', async () => {
      store = new MemoryRegistrationStore({ expiryInterval: 1000 })
      store.start()

      for (let i = 0; i < 10; i++) {
        await store.put(registration(`peer-${i}`, 'ns', NOW + 100), LIMITS)
      }

      await store.put(registration('peer-live', 'ns', NOW + 100_000), LIMITS)

      // expired, but the sweep has not run yet
      await clock.tickAsync(999)
      expect(store.count()).to.equal(11)

      await clock.tickAsync(1)
      expect(store.count()).to.equal(1)

      // and again on the next interval
      for (let i = 0; i < 5; i++) {
        await store.put(registration(`peer-${i}`, 'ns', Date.now() + 100), LIMITS)
      }

      expect(store.count()).to.equal(6)

      await clock.tickAsync(999)
      expect(store.count()).to.equal(6)

      await clock.tickAsync(1)
      expect(store.count()).to.equal(1)
      expect((await everything()).map(r => r.peerId)).to.deep.equal(['peer-live'])
    })

    it('sweeps every DEFAULT_EXPIRY_INTERVAL by default', async () => {
      store.start()
      await store.put(registration('peer-a', 'ns', NOW + 100), LIMITS)

      await clock.tickAsync(DEFAULT_EXPIRY_INTERVAL - 1)
      expect(store.count()).to.equal(1)

      await clock.tickAsync(1)
      expect(store.count()).to.equal(0)
    })

    it('reclaims more than one batch in a sweep', async () => {
      store = new MemoryRegistrationStore({ expiryInterval: 1000 })
      store.start()

      const total = EXPIRY_BATCH_SIZE * 2 + 500

      for (let i = 0; i < total; i++) {
        await store.put(registration(`peer-${i}`, 'ns', NOW + 100), LIMITS)
      }

      expect(store.count()).to.equal(total)

      await clock.tickAsync(999)
      expect(store.count()).to.equal(total)

      // the sweep yields to the event loop between batches, so let a few
      // zero-delay timers run (fake timers run them 1 ms apart), well before
      // the next interval
      await clock.tickAsync(10)

      expect(store.count()).to.equal(0)
    })

    it('does not sweep before start', async () => {
      store = new MemoryRegistrationStore({ expiryInterval: 1000 })
      await store.put(registration('peer-a', 'ns', NOW + 100), LIMITS)

      await clock.tickAsync(10_000)

      expect(store.count()).to.equal(1)
      expect(clock.countTimers()).to.equal(0)
    })

    it('leaves no timer after stop', async () => {
      store = new MemoryRegistrationStore({ expiryInterval: 1000 })
      store.start()
      expect(clock.countTimers()).to.equal(1)

      store.stop()
      expect(clock.countTimers()).to.equal(0)
    })

    it('leaves no timer after stop once sweeps have run, and sweeps no more', async () => {
      store = new MemoryRegistrationStore({ expiryInterval: 1000 })
      store.start()

      await store.put(registration('peer-a', 'ns', NOW + 100), LIMITS)
      await clock.tickAsync(3500)
      expect(store.count()).to.equal(0)

      store.stop()
      expect(clock.countTimers()).to.equal(0)

      await store.put(registration('peer-b', 'ns', Date.now() + 100), LIMITS)
      await clock.tickAsync(10_000)

      expect(store.count()).to.equal(1)
      expect(clock.countTimers()).to.equal(0)
    })

    it('can be started again after stop', async () => {
      store = new MemoryRegistrationStore({ expiryInterval: 1000 })
      store.start()
      store.stop()
      store.start()

      await store.put(registration('peer-a', 'ns', NOW + 100), LIMITS)
      await clock.tickAsync(1000)

      expect(store.count()).to.equal(0)
    })
  })

  describe('expiry edge cases', () => {
    it('does not count expired registrations against maxRegistrationsPerPeer behind a full batch of other expired ones', async () => {
      // more than one batch of other peers' registrations expire first
      for (let i = 0; i <= EXPIRY_BATCH_SIZE; i++) {
        await store.put(registration(`other-${i}`, 'ns', NOW + 100), LIMITS)
      }

      await store.put(registration('peer-a', 'ns-1', NOW + 200), LIMITS)

      clock.tick(300)

      // peer-a's only registration has expired, so it holds no namespace
      const put = await store.put(registration('peer-a', 'ns-2'), { ...LIMITS, maxRegistrationsPerPeer: 1 })

      expect(put.namespace).to.equal('ns-2')
    })

    it('stops sweeping when stopped in the middle of a sweep', async () => {
      store = new MemoryRegistrationStore({ expiryInterval: 1000 })
      store.start()

      const total = EXPIRY_BATCH_SIZE * 3

      for (let i = 0; i < total; i++) {
        await store.put(registration(`peer-${i}`, 'ns', NOW + 100), LIMITS)
      }

      await clock.tickAsync(1000)
      expect(store.count()).to.equal(total - EXPIRY_BATCH_SIZE)

      store.stop()
      expect(clock.countTimers()).to.equal(0)

      await clock.tickAsync(100)
      expect(store.count()).to.equal(total - EXPIRY_BATCH_SIZE)
    })
  })

  describe('at scale', () => {
    it('pages correctly near the end of 100k registrations in one namespace', async () => {
      const total = 100_000
      const sequences: number[] = []

      for (let i = 0; i < total; i++) {
        sequences.push((await store.put(registration(`peer-${i}`, 'ns', NOW + TTL), LIMITS)).sequence)
      }

      // another namespace interleaved at the end
      const otherNamespace = await store.put(registration('peer-x', 'other', NOW + TTL), LIMITS)

      expect(store.count()).to.equal(total + 1)

      const cursorNearEnd = sequences[total - 20]
      const page = await store.discover({ namespace: 'ns', after: cursorNearEnd, limit: 10, now: NOW })

      expect(page.registrations.map(r => r.sequence)).to.deep.equal(sequences.slice(total - 19, total - 9))
      expect(page.registrations.map(r => r.peerId)).to.deep.equal(
        Array.from({ length: 10 }, (_, i) => `peer-${total - 19 + i}`)
      )
      expect(page.cursor).to.equal(sequences[total - 10])

      const last = await store.discover({ namespace: 'ns', after: page.cursor, limit: 10, now: NOW })

      expect(last.registrations.map(r => r.sequence)).to.deep.equal(sequences.slice(total - 9))
      expect(last.cursor).to.equal(sequences[total - 1])

      // across namespaces the other registration follows
      const all = await store.discover({ after: sequences[total - 3], limit: 10, now: NOW })

      expect(all.registrations.map(r => r.sequence)).to.deep.equal([...sequences.slice(total - 2), otherNamespace.sequence])

      // a page out of the middle, after deleting some of it
      for (let i = 50_000; i < 50_600; i++) {
        await store.delete(`peer-${i}`, 'ns')
      }

      const middle = await store.discover({ namespace: 'ns', after: sequences[49_995], limit: 10, now: NOW })

      expect(middle.registrations.map(r => r.peerId)).to.deep.equal([
        'peer-49996', 'peer-49997', 'peer-49998', 'peer-49999',
        'peer-50600', 'peer-50601', 'peer-50602', 'peer-50603', 'peer-50604', 'peer-50605'
      ])
    })
  })
})

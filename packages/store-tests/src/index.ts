/**
 * @packageDocumentation
 *
 * The behaviour every `RegistrationStore` of
 * [libp2p-rendezvous](https://www.npmjs.com/package/libp2p-rendezvous) must
 * have, as one mocha suite: run it against your store as
 * `interface-datastore-tests` is run against a datastore.
 *
 * The suite fakes `Date` (only `Date`: timers and promises run for real),
 * starting at the real time, so a store must read the time from `Date.now()`.
 * Stores that share state between instances (Redis) must be emptied by
 * `setup()`.
 *
 * @example
 *
 * ```TypeScript
 * import { registrationStoreTests } from 'libp2p-rendezvous-store-tests'
 * import { MyStore } from '../src/index.js'
 *
 * describe('my store', () => {
 *   registrationStoreTests({
 *     async setup () {
 *       const store = new MyStore()
 *       await store.start?.()
 *       return store
 *     },
 *     async teardown (store) {
 *       await store.stop?.()
 *     }
 *   })
 * })
 * ```
 */

import { expect } from 'aegir/chai'
import { namespaceBytes, NotAuthorizedError, registrationBytes, UnavailableError } from 'libp2p-rendezvous'
import sinon from 'sinon'
import type { NewRegistration, Registration, RegistrationLimits, RegistrationStore } from 'libp2p-rendezvous'

export interface RegistrationStoreTestSetup<S extends RegistrationStore = RegistrationStore> {
  /**
   * A new, started, empty store
   */
  setup(): Promise<S>

  /**
   * Stops the store and frees what it holds
   */
  teardown(store: S): Promise<void>
}

/**
 * Caps no test reaches unless it means to
 */
export const ROOMY_LIMITS: RegistrationLimits = {
  maxRegistrationsPerPeer: 1000,
  maxRegistrations: 1_000_000,
  maxStoreBytes: 1024 * 1024 * 1024,
  maxRegistrationsPerHost: 1_000_000
}

const TTL = 60_000

/**
 * A registration whose record is `record`, expiring `ttl` ms from now
 */
function registration (peerId: string, namespace: string, options: { ttl?: number, record?: Uint8Array<ArrayBuffer>, host?: string } = {}): NewRegistration {
  const written: NewRegistration = {
    peerId,
    namespace,
    signedPeerRecord: options.record ?? Uint8Array.from([1, 2, 3, 4]),
    expiresAt: Date.now() + (options.ttl ?? TTL)
  }

  if (options.host != null) {
    written.host = options.host
  }

  return written
}

function names (registrations: Registration[]): string[] {
  return registrations.map(r => `${r.peerId}/${r.namespace}`)
}

/**
 * `store.put()` as a promise: a store may answer at once, or throw, as the
 * memory store does, or return a promise
 */
async function attemptPut (store: RegistrationStore, registration: NewRegistration, limits: RegistrationLimits): Promise<Registration> {
  return store.put(registration, limits)
}

/**
 * Defines the suite in the current mocha `describe`
 */
export function registrationStoreTests <S extends RegistrationStore> (test: RegistrationStoreTestSetup<S>): void {
  describe('registration store', function () {
    this.timeout(30_000)

    let store: S
    let clock: sinon.SinonFakeTimers
    /**
     * When the faked clock started, in ms since the epoch: the real time, so
     * that stores whose backends keep real time (Redis key TTLs) agree
     */
    let NOW: number

    beforeEach(async () => {
      NOW = Date.now()
      clock = sinon.useFakeTimers({ now: NOW, toFake: ['Date'] })
      store = await test.setup()
    })

    afterEach(async () => {
      await test.teardown(store)
      clock.restore()
    })

    async function list (namespace?: string, after = 0, limit = 1000, now = Date.now()): Promise<Registration[]> {
      return (await store.discover({ namespace, after, limit, now })).registrations
    }

    describe('put', () => {
      it('returns the registration with a sequence, and counts it', async () => {
        const put = await store.put(registration('peer-a', 'ns'), ROOMY_LIMITS)

        expect(put.peerId).to.equal('peer-a')
        expect(put.namespace).to.equal('ns')
        expect(put.signedPeerRecord).to.equalBytes(Uint8Array.from([1, 2, 3, 4]))
        expect(put.expiresAt).to.equal(NOW + TTL)
        expect(put.sequence).to.be.a('number').that.is.greaterThan(0)
        expect(await store.count()).to.equal(1)
      })

      it('gives every write, a refresh included, a larger sequence than every earlier one', async () => {
        const sequences = []

        for (const [peer, namespace] of [['a', 'x'], ['b', 'x'], ['a', 'y'], ['a', 'x']]) {
          sequences.push((await store.put(registration(peer, namespace), ROOMY_LIMITS)).sequence)
        }

        expect([...sequences].sort((a, b) => a - b)).to.deep.equal(sequences)
        expect(new Set(sequences).size).to.equal(sequences.length)
      })

      it('replaces the registration of the same peer and namespace', async () => {
        await store.put(registration('peer-a', 'ns', { record: Uint8Array.from([1]) }), ROOMY_LIMITS)
        const refreshed = await store.put(registration('peer-a', 'ns', { record: Uint8Array.from([2]), ttl: 2 * TTL }), ROOMY_LIMITS)

        const found = await list('ns')
        expect(found).to.have.lengthOf(1)
        expect(found[0].signedPeerRecord).to.equalBytes(Uint8Array.from([2]))
        expect(found[0].expiresAt).to.equal(NOW + 2 * TTL)
        expect(found[0].sequence).to.equal(refreshed.sequence)
        expect(await store.count()).to.equal(1)
      })

      it('keeps a peer\'s registrations in different namespaces apart', async () => {
        await store.put(registration('peer-a', 'one'), ROOMY_LIMITS)
        await store.put(registration('peer-a', 'two'), ROOMY_LIMITS)

        expect(names(await list('one'))).to.deep.equal(['peer-a/one'])
        expect(names(await list('two'))).to.deep.equal(['peer-a/two'])
        expect(await store.count()).to.equal(2)
      })

      it('keeps every byte of a record and any namespace', async () => {
        const record = Uint8Array.from({ length: 3000 }, (_, i) => (i * 7) % 256)
        const namespaces = ['with spaces', 'ünïcödé ✓', 'a:b:c', 'x'.repeat(255), '/slashes/']

        for (const namespace of namespaces) {
          await store.put(registration('peer-a', namespace, { record }), ROOMY_LIMITS)
        }

        for (const namespace of namespaces) {
          const found = await list(namespace)
          expect(names(found)).to.deep.equal([`peer-a/${namespace}`])
          expect(found[0].signedPeerRecord).to.equalBytes(record)
        }
      })

      it('keeps a copy of a record handed in as a view into a larger buffer', async () => {
        // how the point hands a record over: a view into the request
        const received = Uint8Array.from({ length: 64 }, (_, i) => i + 1)
        const record = received.subarray(8, 40)
        const expected = record.slice()

        await store.put(registration('peer-a', 'ns', { record }), ROOMY_LIMITS)
        received.fill(0)

        const [found] = await list('ns')
        expect(found.signedPeerRecord).to.equalBytes(expected)
        expect(found.signedPeerRecord.buffer).to.not.equal(received.buffer)
      })

      it('never confuses (peer, namespace) pairs that concatenate alike', async () => {
        await store.put(registration('peer:a', 'b'), ROOMY_LIMITS)
        await store.put(registration('peer', 'a:b'), ROOMY_LIMITS)

        expect(names(await list(undefined)).sort()).to.deep.equal(['peer/a:b', 'peer:a/b'])
        await store.delete('peer', 'a:b')
        expect(names(await list(undefined))).to.deep.equal(['peer:a/b'])
      })
    })

    describe('caps', () => {
      it('refuses a new namespace past maxRegistrationsPerPeer with NotAuthorizedError', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerPeer: 2 }
        await store.put(registration('peer-a', 'one'), limits)
        await store.put(registration('peer-a', 'two'), limits)

        await expect(attemptPut(store, registration('peer-a', 'three'), limits)).to.eventually.be.rejected
          .with.property('name', NotAuthorizedError.name)
        // another peer is not affected
        await store.put(registration('peer-b', 'three'), limits)
        expect(await store.count()).to.equal(3)
      })

      it('refuses a new registration past maxRegistrations with UnavailableError', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrations: 2 }
        await store.put(registration('peer-a', 'ns'), limits)
        await store.put(registration('peer-b', 'ns'), limits)

        await expect(attemptPut(store, registration('peer-c', 'ns'), limits)).to.eventually.be.rejected
          .with.property('name', UnavailableError.name)
        expect(await store.count()).to.equal(2)
      })

      it('always allows a refresh of a registration held, even at both caps', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerPeer: 1, maxRegistrations: 1 }
        await store.put(registration('peer-a', 'ns'), limits)

        const refreshed = await store.put(registration('peer-a', 'ns', { ttl: 2 * TTL }), limits)
        expect(refreshed.expiresAt).to.equal(NOW + 2 * TTL)
      })

      it('frees a slot when a registration is deleted', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerPeer: 1, maxRegistrations: 1 }
        await store.put(registration('peer-a', 'ns'), limits)
        await store.delete('peer-a', 'ns')

        await store.put(registration('peer-b', 'ns'), limits)
        expect(names(await list('ns'))).to.deep.equal(['peer-b/ns'])
      })

      it('does not count expired registrations against the caps', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerPeer: 1, maxRegistrations: 1 }
        await store.put(registration('peer-a', 'one', { ttl: 1000 }), limits)

        clock.tick(1000)
        await store.put(registration('peer-a', 'two'), limits)
        expect(names(await list(undefined))).to.deep.equal(['peer-a/two'])
      })
    })

    describe('byte budget', () => {
      /**
       * Room for `records` registrations of `length`-byte records in one
       * namespace `ns`
       */
      function room (records: number, length: number): number {
        return records * registrationBytes(length) + namespaceBytes('ns')
      }

      it('refuses a registration that would take the store past maxStoreBytes with UnavailableError', async () => {
        const limits = { ...ROOMY_LIMITS, maxStoreBytes: room(2, 100) }
        const record = new Uint8Array(100)
        await store.put(registration('peer-a', 'ns', { record }), limits)
        await store.put(registration('peer-b', 'ns', { record }), limits)

        await expect(attemptPut(store, registration('peer-c', 'ns', { record }), limits)).to.eventually.be.rejected
          .with.property('name', UnavailableError.name)
        // nor a smaller one: the budget is spent
        await expect(attemptPut(store, registration('peer-c', 'ns', { record: new Uint8Array(50) }), limits)).to.eventually.be.rejected
          .with.property('name', UnavailableError.name)
        expect(await store.count()).to.equal(2)
      })

      it('counts a namespace once, however many registrations it has', async () => {
        const limits = { ...ROOMY_LIMITS, maxStoreBytes: room(3, 10) }

        for (const peer of ['a', 'b', 'c']) {
          await store.put(registration(peer, 'ns', { record: new Uint8Array(10) }), limits)
        }

        // a new namespace costs its own share
        await expect(attemptPut(store, registration('d', 'other', { record: new Uint8Array(1) }), { ...limits, maxStoreBytes: room(3, 10) + registrationBytes(1) })).to.eventually.be.rejected
          .with.property('name', UnavailableError.name)
      })

      it('lets a refresh that does not grow pass a full budget, and a growing one only with room', async () => {
        const limits = { ...ROOMY_LIMITS, maxStoreBytes: room(1, 100) }
        await store.put(registration('peer-a', 'ns', { record: new Uint8Array(100) }), limits)

        await store.put(registration('peer-a', 'ns', { record: new Uint8Array(100).fill(1) }), limits)
        await store.put(registration('peer-a', 'ns', { record: new Uint8Array(60).fill(2) }), limits)

        // it shrank by 40 bytes: it may grow back by 40, not by 41
        await expect(attemptPut(store, registration('peer-a', 'ns', { record: new Uint8Array(101).fill(3) }), limits)).to.eventually.be.rejected
          .with.property('name', UnavailableError.name)
        // refused, it stays as it was
        expect((await list('ns'))[0].signedPeerRecord).to.equalBytes(new Uint8Array(60).fill(2))
        await store.put(registration('peer-a', 'ns', { record: new Uint8Array(100).fill(4) }), limits)
      })

      it('frees the bytes of a registration deleted or expired', async () => {
        const limits = { ...ROOMY_LIMITS, maxStoreBytes: room(1, 100) }
        await store.put(registration('peer-a', 'ns', { record: new Uint8Array(100) }), limits)
        await store.delete('peer-a', 'ns')
        await store.put(registration('peer-b', 'ns', { record: new Uint8Array(100), ttl: 1000 }), limits)

        clock.tick(1000)
        await store.put(registration('peer-c', 'ns', { record: new Uint8Array(100) }), limits)
        expect(names(await list('ns'))).to.deep.equal(['peer-c/ns'])
      })
    })

    describe('host cap', () => {
      const HOST = 'ip4/192.0.2.7/32'
      const OTHER_HOST = 'ip4/192.0.2.8/32'

      it('refuses a new registration past maxRegistrationsPerHost with UnavailableError, over all the host\'s peers', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerHost: 3 }

        for (const [peer, namespace] of [['a', 'x'], ['a', 'y'], ['b', 'x']]) {
          await store.put(registration(peer, namespace, { host: HOST }), limits)
        }

        const refused = await attemptPut(store, registration('c', 'x', { host: HOST }), limits).catch(err => err)
        expect(refused).to.have.property('name', UnavailableError.name)
        expect(refused).to.have.property('limit', 'maxRegistrationsPerHost')
        expect(refused.statusText).to.include(HOST)

        // other hosts, and registrations no host cap counts, are not affected
        await store.put(registration('c', 'x', { host: OTHER_HOST }), limits)
        await store.put(registration('d', 'x'), limits)
        expect(await store.count()).to.equal(5)
      })

      it('always allows a refresh at the cap, which stays counted against its first host', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerHost: 1 }
        await store.put(registration('a', 'x', { host: HOST }), limits)

        await store.put(registration('a', 'x', { host: HOST, ttl: 2 * TTL }), limits)
        // from another host too: it is the same registration
        await store.put(registration('a', 'x', { host: OTHER_HOST }), limits)
        await store.put(registration('b', 'x', { host: OTHER_HOST }), limits)

        await expect(attemptPut(store, registration('c', 'x', { host: HOST }), limits)).to.eventually.be.rejected
          .with.property('limit', 'maxRegistrationsPerHost')
      })

      it('frees a host\'s slot when a registration is deleted or expires', async () => {
        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerHost: 2 }
        await store.put(registration('a', 'x', { host: HOST }), limits)
        await store.put(registration('b', 'x', { host: HOST, ttl: 1000 }), limits)

        await store.delete('a', 'x')
        await store.put(registration('c', 'x', { host: HOST }), limits)

        clock.tick(1000)
        await store.put(registration('d', 'x', { host: HOST }), limits)
        expect(names(await list('x'))).to.deep.equal(['c/x', 'd/x'])
      })

      it('says how many hosts are at the cap, when it can', async () => {
        if (store.hostsAtLimit == null) {
          return
        }

        const limits = { ...ROOMY_LIMITS, maxRegistrationsPerHost: 2 }
        await store.put(registration('a', 'x', { host: HOST }), limits)
        await store.put(registration('b', 'x', { host: HOST }), limits)
        await store.put(registration('c', 'x', { host: OTHER_HOST }), limits)

        expect(await store.hostsAtLimit(2)).to.equal(1)
        expect(await store.hostsAtLimit(1)).to.equal(2)

        await store.delete('a', 'x')
        expect(await store.hostsAtLimit(2)).to.equal(0)
      })
    })

    describe('records held', () => {
      const RECORD = Uint8Array.from([1, 2, 3, 4])
      const OTHER = Uint8Array.from([1, 2, 3, 5])

      it('holds a record byte for byte, for its peer, in any of its namespaces, while live, when it can tell', async () => {
        if (store.holdsRecord == null) {
          return
        }

        await store.put(registration('peer-a', 'ns-1', { ttl: 100, record: RECORD }), ROOMY_LIMITS)
        await store.put(registration('peer-a', 'ns-2', { ttl: 200, record: OTHER }), ROOMY_LIMITS)

        expect(await store.holdsRecord('peer-a', RECORD, NOW)).to.be.true()
        expect(await store.holdsRecord('peer-a', OTHER, NOW)).to.be.true()
        // another peer, another length, another byte
        expect(await store.holdsRecord('peer-b', RECORD, NOW)).to.be.false()
        expect(await store.holdsRecord('peer-a', RECORD.subarray(0, 3), NOW)).to.be.false()
        expect(await store.holdsRecord('peer-a', Uint8Array.from([1, 2, 3, 6]), NOW)).to.be.false()
        // ns-1 lapses at NOW + 100, ns-2 at NOW + 200
        expect(await store.holdsRecord('peer-a', RECORD, NOW + 100)).to.be.false()
        expect(await store.holdsRecord('peer-a', OTHER, NOW + 100)).to.be.true()
        expect(await store.holdsRecord('peer-a', OTHER, NOW + 200)).to.be.false()
      })

      it('no longer holds a record once its registration is replaced or deleted, when it can tell', async () => {
        if (store.holdsRecord == null) {
          return
        }

        await store.put(registration('peer-a', 'ns', { record: RECORD }), ROOMY_LIMITS)
        await store.put(registration('peer-a', 'ns', { record: OTHER }), ROOMY_LIMITS)
        expect(await store.holdsRecord('peer-a', RECORD, NOW)).to.be.false()

        await store.delete('peer-a', 'ns')
        expect(await store.holdsRecord('peer-a', OTHER, NOW)).to.be.false()
      })
    })

    describe('delete', () => {
      it('removes a registration from its namespace and from the whole store', async () => {
        await store.put(registration('peer-a', 'ns'), ROOMY_LIMITS)
        await store.put(registration('peer-b', 'ns'), ROOMY_LIMITS)
        await store.delete('peer-a', 'ns')

        expect(names(await list('ns'))).to.deep.equal(['peer-b/ns'])
        expect(names(await list(undefined))).to.deep.equal(['peer-b/ns'])
        expect(await store.count()).to.equal(1)
      })

      it('is a no-op for a registration it does not hold, and when repeated', async () => {
        await store.put(registration('peer-a', 'ns'), ROOMY_LIMITS)
        await store.delete('peer-a', 'other')
        await store.delete('peer-b', 'ns')
        await store.delete('peer-a', 'ns')
        await store.delete('peer-a', 'ns')

        expect(await store.count()).to.equal(0)
      })
    })

    describe('discover', () => {
      it('lists a namespace, or every namespace, in sequence order', async () => {
        for (const [peer, namespace] of [['a', 'x'], ['b', 'y'], ['c', 'x'], ['b', 'x']]) {
          await store.put(registration(peer, namespace), ROOMY_LIMITS)
        }

        expect(names(await list('x'))).to.deep.equal(['a/x', 'c/x', 'b/x'])
        expect(names(await list(undefined))).to.deep.equal(['a/x', 'b/y', 'c/x', 'b/x'])
        const sequences = (await list(undefined)).map(r => r.sequence)
        expect([...sequences].sort((a, b) => a - b)).to.deep.equal(sequences)
      })

      it('lists nothing for a namespace it does not hold, keeping the cursor', async () => {
        await store.put(registration('a', 'x'), ROOMY_LIMITS)

        const page = await store.discover({ namespace: 'nothing', after: 0, limit: 10, now: Date.now() })
        expect(page.registrations).to.be.empty()
        expect(page.cursor).to.equal(0)
      })

      it('returns at most limit registrations, and pages through the rest with the cursor', async () => {
        for (let i = 0; i < 7; i++) {
          await store.put(registration(`peer-${i}`, 'ns'), ROOMY_LIMITS)
        }

        const seen: string[] = []
        let after = 0

        for (let pages = 0; pages < 10; pages++) {
          const page = await store.discover({ namespace: 'ns', after, limit: 3, now: Date.now() })
          expect(page.registrations.length).to.be.at.most(3)

          if (page.registrations.length === 0) {
            expect(page.cursor).to.equal(after)
            break
          }

          expect(page.cursor).to.equal(page.registrations.at(-1)?.sequence)
          seen.push(...names(page.registrations))
          after = page.cursor
        }

        expect(seen).to.deep.equal(Array.from({ length: 7 }, (_, i) => `peer-${i}/ns`))
      })

      it('returns nothing for a limit of 0, keeping the cursor', async () => {
        const put = await store.put(registration('a', 'x'), ROOMY_LIMITS)

        const page = await store.discover({ namespace: 'x', after: 0, limit: 0, now: Date.now() })
        expect(page.registrations).to.be.empty()
        expect(page.cursor).to.equal(0)
        expect(put.sequence).to.be.greaterThan(0)
      })

      it('returns after a cursor only what was added or refreshed since', async () => {
        await store.put(registration('a', 'ns'), ROOMY_LIMITS)
        const b = await store.put(registration('b', 'ns'), ROOMY_LIMITS)
        const cursor = (await store.discover({ namespace: 'ns', after: 0, limit: 10, now: Date.now() })).cursor
        expect(cursor).to.equal(b.sequence)

        expect(await list('ns', cursor)).to.be.empty()

        await store.put(registration('a', 'ns'), ROOMY_LIMITS)
        await store.put(registration('c', 'ns'), ROOMY_LIMITS)
        expect(names(await list('ns', cursor))).to.deep.equal(['a/ns', 'c/ns'])
      })

      it('skips deleted registrations', async () => {
        await store.put(registration('a', 'ns'), ROOMY_LIMITS)
        await store.put(registration('b', 'ns'), ROOMY_LIMITS)
        await store.delete('a', 'ns')

        expect(names(await list('ns'))).to.deep.equal(['b/ns'])
      })

      it('never returns a registration that expired at or before now, and moves the cursor past it', async () => {
        await store.put(registration('a', 'ns', { ttl: 1000 }), ROOMY_LIMITS)
        const b = await store.put(registration('b', 'ns', { ttl: 5000 }), ROOMY_LIMITS)

        expect(names(await list('ns', 0, 10, NOW + 999))).to.deep.equal(['a/ns', 'b/ns'])
        expect(names(await list('ns', 0, 10, NOW + 1000))).to.deep.equal(['b/ns'])

        const page = await store.discover({ namespace: 'ns', after: 0, limit: 10, now: NOW + 5000 })
        expect(page.registrations).to.be.empty()
        expect(page.cursor).to.equal(b.sequence)
      })

      it('fills a page with live registrations past expired ones', async () => {
        for (let i = 0; i < 4; i++) {
          await store.put(registration(`expired-${i}`, 'ns', { ttl: 1000 }), ROOMY_LIMITS)
          await store.put(registration(`live-${i}`, 'ns'), ROOMY_LIMITS)
        }

        expect(names(await list('ns', 0, 3, NOW + 1000))).to.deep.equal(['live-0/ns', 'live-1/ns', 'live-2/ns'])
      })

      it('lists with discoverHeld what discover lists, each record as bytes or one character per byte, when it can', async () => {
        const discoverHeld = store.discoverHeld?.bind(store)

        if (discoverHeld == null) {
          return
        }

        // every byte value, records of several lengths, two namespaces,
        // a refresh, a deletion and registrations lapsing
        for (let i = 0; i < 6; i++) {
          const record = Uint8Array.from({ length: 1 + i * 60 }, (_, j) => (j * 37 + i) & 0xff)
          await store.put(registration(`peer-${i}`, i % 2 === 0 ? 'even' : 'odd', { record, ttl: i < 2 ? 1000 : TTL }), ROOMY_LIMITS)
        }

        await store.put(registration('peer-3', 'odd', { record: Uint8Array.from([255, 0, 128]) }), ROOMY_LIMITS)
        await store.delete('peer-4', 'even')

        const bytesOf = (record: Uint8Array | string): Uint8Array => typeof record === 'string' ? Uint8Array.from(record, char => char.charCodeAt(0)) : record

        for (const namespace of ['even', 'odd', undefined, 'none']) {
          for (const [after, limit, now] of [[0, 1000, NOW], [0, 2, NOW], [3, 1000, NOW], [0, 1000, NOW + 1000], [0, 0, NOW]]) {
            const query = { namespace, after, limit, now }
            const page = await store.discover(query)
            const held = await discoverHeld(query)

            expect(held.cursor).to.equal(page.cursor, JSON.stringify(query))
            expect(held.registrations.map(r => [r.namespace, r.expiresAt])).to.deep.equal(page.registrations.map(r => [r.namespace, r.expiresAt]), JSON.stringify(query))
            held.registrations.forEach((registration, index) => {
              expect(bytesOf(registration.signedPeerRecord)).to.equalBytes(page.registrations[index].signedPeerRecord)
            })
          }
        }
      })
    })
  })
}

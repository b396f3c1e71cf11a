import { createClient } from '@redis/client'
import { expect } from 'aegir/chai'
import { InvalidOptionError, namespaceBytes, registrationBytes, UnavailableError } from 'libp2p-rendezvous'
import { Children, startRedis } from 'libp2p-rendezvous-testing/node'
import { REDIS_DISCOVER_MAX_SKIPPED, REDIS_KEY_TTL_GRACE, RedisRegistrationStore } from '../src/index.ts'
import type { NewRegistration, Registration, RegistrationLimits } from 'libp2p-rendezvous'
import type { TestRedis } from 'libp2p-rendezvous-testing/node'

/**
 * What a registration and a namespace cost against maxStoreBytes beyond their bytes
 */
const REGISTRATION_OVERHEAD_BYTES = registrationBytes(0)
const NAMESPACE_OVERHEAD_BYTES = namespaceBytes('')

async function delay (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

const LIMITS: RegistrationLimits = { maxRegistrationsPerPeer: 10, maxRegistrations: 100, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }
const PREFIX = 'test:'

describe('redis registration store', function () {
  this.timeout(30_000)

  const children = new Children()
  let redis: TestRedis
  let admin: ReturnType<typeof createClient>
  let stores: RedisRegistrationStore[]

  before(async () => {
    redis = await startRedis(children)
    admin = createClient({ url: redis.url })
    admin.on('error', () => {})
    await admin.connect()
  })

  after(async () => {
    await admin?.close()
    await children.stopAll()
  })

  beforeEach(async () => {
    await admin.flushAll()
    stores = []
  })

  afterEach(async () => {
    await Promise.all(stores.map(async store => store.stop()))
  })

  async function startStore (init: Partial<ConstructorParameters<typeof RedisRegistrationStore>[0]> = {}): Promise<RedisRegistrationStore> {
    const store = new RedisRegistrationStore({ url: redis.url, prefix: PREFIX, ...init })
    await store.start()
    stores.push(store)
    return store
  }

  function registration (peerId: string, namespace: string, ttl = 60_000, record = Uint8Array.from([1, 2, 3])): NewRegistration {
    return { peerId, namespace, signedPeerRecord: record, expiresAt: Date.now() + ttl }
  }

  async function keys (): Promise<string[]> {
    return (await admin.keys(`${PREFIX}*`)).sort()
  }

  async function all (store: RedisRegistrationStore, namespace?: string, after = 0): Promise<Registration[]> {
    return (await store.discover({ namespace, after, limit: 1000, now: Date.now() })).registrations
  }

  describe('writes and reads', () => {
    // the behaviour every store shares is in test/compliance.spec.ts
    it('keeps stores with different prefixes apart', async () => {
      const a = await startStore({ prefix: 'fleet-a:' })
      const b = await startStore({ prefix: 'fleet-b:' })
      await a.put(registration('peer-a', 'ns'), LIMITS)

      expect(await b.count()).to.equal(0)
      expect(await all(b, 'ns')).to.be.empty()
    })
  })

  describe('sequence', () => {
    it('increases with every write, a refresh included, and is never below the clock in µs', async () => {
      const before = Date.now() * 1000
      const store = await startStore()
      const a = await store.put(registration('peer-a', 'ns'), LIMITS)
      const b = await store.put(registration('peer-b', 'ns'), LIMITS)
      const refreshed = await store.put(registration('peer-a', 'ns', 90_000), LIMITS)

      expect(a.sequence).to.be.at.least(before)
      expect(b.sequence).to.be.greaterThan(a.sequence)
      expect(refreshed.sequence).to.be.greaterThan(b.sequence)
      expect(Number.isSafeInteger(refreshed.sequence)).to.be.true()

      // the refresh moved peer-a after peer-b and replaced it
      expect((await all(store, 'ns')).map(r => [r.peerId, r.sequence])).to.deep.equal([['peer-b', b.sequence], ['peer-a', refreshed.sequence]])
      expect(await store.count()).to.equal(2)
    })

    it('is shared: writes through two stores get one increasing sequence', async () => {
      const a = await startStore()
      const b = await startStore()
      const written = await Promise.all(Array.from({ length: 40 }, async (_, i) => (i % 2 === 0 ? a : b).put(registration(`peer-${i}`, 'ns'), { maxRegistrationsPerPeer: 10, maxRegistrations: 1000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 })))
      const sequences = written.map(r => r.sequence)

      expect(new Set(sequences).size).to.equal(40)
      expect((await all(a, 'ns')).map(r => r.sequence)).to.deep.equal([...sequences].sort((x, y) => x - y))
      expect(await all(b, 'ns')).to.deep.equal(await all(a, 'ns'))
    })

    it('stays above what cookies saw when Redis lost its data', async () => {
      const store = await startStore()
      const before = await store.put(registration('peer-a', 'ns'), LIMITS)
      await admin.flushAll()
      // a Redis that lost its data takes longer than a millisecond to come
      // back; sequences follow the clock in µs, a store writes far fewer than
      // 1000 registrations per ms, so every earlier sequence is behind the clock
      await delay(2)

      const after = await store.put(registration('peer-b', 'ns'), LIMITS)
      expect(after.sequence).to.be.greaterThan(before.sequence)
      expect((await all(store, 'ns', before.sequence)).map(r => r.peerId)).to.deep.equal(['peer-b'])
    })

    it('reloads its scripts when Redis forgot them', async () => {
      const store = await startStore()
      await store.put(registration('peer-a', 'ns'), LIMITS)
      await admin.scriptFlush()

      await store.put(registration('peer-b', 'ns'), LIMITS)
      expect(await store.count()).to.equal(2)
    })
  })

  describe('caps', () => {
    it('holds both caps atomically under concurrent writes through two stores', async () => {
      const a = await startStore()
      const b = await startStore()

      const perPeer = { maxRegistrationsPerPeer: 5, maxRegistrations: 1000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }
      const results = await Promise.allSettled(Array.from({ length: 40 }, async (_, i) => (i % 2 === 0 ? a : b).put(registration('peer-x', `ns-${i}`), perPeer)))
      expect(results.filter(r => r.status === 'fulfilled')).to.have.lengthOf(5)
      expect(results.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason.name)).to.deep.equal(Array(35).fill('NotAuthorizedError'))

      const global = { maxRegistrationsPerPeer: 10, maxRegistrations: 12, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }
      const more = await Promise.allSettled(Array.from({ length: 40 }, async (_, i) => (i % 2 === 0 ? a : b).put(registration(`peer-${i}`, 'ns'), global)))
      expect(more.filter(r => r.status === 'fulfilled')).to.have.lengthOf(7)
      expect(more.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason.name)).to.deep.equal(Array(33).fill('UnavailableError'))
      expect(await a.count()).to.equal(12)
    })

    it('refuses a write past maxStoreBytes with UnavailableError; a refresh passes unless it grows past it, and keeps what it would replace', async () => {
      const store = await startStore()
      const sized = (peerId: string, namespace: string, size: number): NewRegistration => registration(peerId, namespace, 60_000, new Uint8Array(size))
      const limits = { ...LIMITS, maxStoreBytes: 2 * (1000 + REGISTRATION_OVERHEAD_BYTES) + 'ns'.length + NAMESPACE_OVERHEAD_BYTES }
      await store.put(sized('peer-a', 'ns', 1000), limits)
      await store.put(sized('peer-b', 'ns', 900), limits)

      await expect(store.put(sized('peer-c', 'ns', 100), limits)).to.eventually.be.rejectedWith(UnavailableError, `its registrations may take at most ${limits.maxStoreBytes} bytes`)
      // 100 bytes free: not enough for one more, nor for a namespace of its own
      await expect(store.put(sized('peer-b', 'other', 0), limits)).to.eventually.be.rejectedWith(UnavailableError)

      const same = await store.put(sized('peer-a', 'ns', 1000), limits)
      await expect(store.put(sized('peer-b', 'ns', 1001), limits)).to.eventually.be.rejectedWith(UnavailableError)
      expect((await all(store)).map(r => [r.peerId, r.signedPeerRecord.byteLength])).to.deep.equal([['peer-b', 900], ['peer-a', 1000]])
      expect(same.sequence).to.equal((await all(store)).at(-1)?.sequence)

      const grown = await store.put(sized('peer-b', 'ns', 1000), limits)
      expect(grown.signedPeerRecord.byteLength).to.equal(1000)
      expect(Number(await admin.get(`${PREFIX}bytes`))).to.equal(limits.maxStoreBytes)
    })

    it('counts the bytes held exactly through refreshes, deletes and sweeps, each namespace once', async () => {
      const store = await startStore()
      const sized = (peerId: string, namespace: string, size: number, ttl = 60_000): NewRegistration => registration(peerId, namespace, ttl, new Uint8Array(size))
      const held = async (): Promise<number> => Number(await admin.get(`${PREFIX}bytes`))

      await store.put(sized('peer-a', 'ns', 100), LIMITS)
      await store.put(sized('peer-b', 'ns', 200, 100), LIMITS)
      await store.put(sized('peer-a', 'ünï', 50), LIMITS)
      const namespaces = 2 * NAMESPACE_OVERHEAD_BYTES + 'ns'.length + 'ünï'.length + 2
      expect(await held()).to.equal(350 + 3 * REGISTRATION_OVERHEAD_BYTES + namespaces)

      await store.put(sized('peer-a', 'ns', 10), LIMITS)
      expect(await held()).to.equal(260 + 3 * REGISTRATION_OVERHEAD_BYTES + namespaces)

      await store.delete('peer-a', 'ünï')
      await store.delete('peer-a', 'ünï')
      await store.delete('peer-z', 'ns')
      expect(await held()).to.equal(210 + 2 * REGISTRATION_OVERHEAD_BYTES + NAMESPACE_OVERHEAD_BYTES + 2)

      await delay(200)
      expect(await store.removeExpired(Date.now(), 10)).to.equal(1)
      expect(await held()).to.equal(10 + REGISTRATION_OVERHEAD_BYTES + NAMESPACE_OVERHEAD_BYTES + 2)

      await store.delete('peer-a', 'ns')
      expect(await held()).to.equal(0)
    })

    it('holds the byte budget atomically under concurrent writes through two stores', async () => {
      const a = await startStore()
      const b = await startStore()
      const cost = 500 + REGISTRATION_OVERHEAD_BYTES
      const limits = { ...LIMITS, maxRegistrations: 1000, maxStoreBytes: 7 * cost + 'ns'.length + NAMESPACE_OVERHEAD_BYTES }

      const results = await Promise.allSettled(Array.from({ length: 40 }, async (_, i) => (i % 2 === 0 ? a : b).put(registration(`peer-${i}`, 'ns', 60_000, new Uint8Array(500)), limits)))
      expect(results.filter(r => r.status === 'fulfilled')).to.have.lengthOf(7)
      expect(results.filter(r => r.status === 'rejected').map(r => (r as PromiseRejectedResult).reason.name)).to.deep.equal(Array(33).fill('UnavailableError'))
      expect(Number(await admin.get(`${PREFIX}bytes`))).to.equal(limits.maxStoreBytes)
    })

    it('drops the expired registrations of a peer at its cap that the global batch did not reach', async () => {
      const store = await startStore({ expiryBatchSize: 1 })
      const limits = { maxRegistrationsPerPeer: 3, maxRegistrations: 100, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }
      const now = Date.now()

      for (const peer of ['peer-b', 'peer-c', 'peer-d']) {
        await store.put({ ...registration(peer, 'x'), expiresAt: now + 100 }, limits)
      }

      for (const namespace of ['a', 'b', 'c']) {
        await store.put({ ...registration('peer-a', namespace), expiresAt: now + 150 }, limits)
      }

      await delay(300)

      // the put's own sweep removes one expired registration (of the ones
      // expiring first, another peer's); then the peer's own expired ones
      // make room for it
      await store.put(registration('peer-a', 'd'), limits)
      expect(await store.count()).to.equal(3)
      expect((await all(store)).map(r => r.namespace)).to.deep.equal(['d'])
    })
  })

  describe('discover', () => {
    it('pages through a namespace and across namespaces with the cursor', async () => {
      const store = await startStore()
      const written: Registration[] = []

      for (let i = 0; i < 25; i++) {
        written.push(await store.put(registration(`peer-${i}`, i % 2 === 0 ? 'even' : 'odd'), { maxRegistrationsPerPeer: 10, maxRegistrations: 1000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }))
      }

      const pages: Registration[][] = []
      let cursor = 0

      for (;;) {
        const page = await store.discover({ after: cursor, limit: 10, now: Date.now() })
        pages.push(page.registrations)

        if (page.registrations.length === 0) {
          expect(page.cursor).to.equal(cursor)
          break
        }

        expect(page.cursor).to.equal(page.registrations.at(-1)?.sequence)
        cursor = page.cursor
      }

      expect(pages.map(page => page.length)).to.deep.equal([10, 10, 5, 0])
      expect(pages.flat()).to.deep.equal(written)

      const even = await store.discover({ namespace: 'even', after: 0, limit: 5, now: Date.now() })
      expect(even.registrations).to.deep.equal(written.filter((_, i) => i % 2 === 0).slice(0, 5))
      const rest = await store.discover({ namespace: 'even', after: even.cursor, limit: 100, now: Date.now() })
      expect(rest.registrations).to.deep.equal(written.filter((_, i) => i % 2 === 0).slice(5))

      expect(await store.discover({ namespace: 'none', after: 0, limit: 10, now: Date.now() })).to.deep.equal({ registrations: [], cursor: 0 })
      expect(await store.discover({ after: 7, limit: 0, now: Date.now() })).to.deep.equal({ registrations: [], cursor: 7 })
    })

    it('returns after a cursor only what was added or refreshed since, also through another store', async () => {
      const a = await startStore()
      const b = await startStore()
      await a.put(registration('peer-a', 'ns'), LIMITS)
      await a.put(registration('peer-b', 'ns'), LIMITS)
      const { cursor } = await a.discover({ namespace: 'ns', after: 0, limit: 10, now: Date.now() })

      await b.put(registration('peer-c', 'ns'), LIMITS)
      await b.put(registration('peer-a', 'ns', 120_000), LIMITS)

      expect((await all(b, 'ns', cursor)).map(r => r.peerId)).to.deep.equal(['peer-c', 'peer-a'])
      expect((await all(a, 'ns', cursor)).map(r => r.peerId)).to.deep.equal(['peer-c', 'peer-a'])
    })

    it('skips expired registrations, and its cursor moves past them', async () => {
      const store = await startStore()
      const now = Date.now()
      const soon = await store.put({ ...registration('peer-a', 'ns'), expiresAt: now + 1000 }, LIMITS)
      const later = await store.put({ ...registration('peer-b', 'ns'), expiresAt: now + 60_000 }, LIMITS)
      const last = await store.put({ ...registration('peer-c', 'ns'), expiresAt: now + 1000 }, LIMITS)

      // registrations expiring at or before `now` are not returned
      const page = await store.discover({ namespace: 'ns', after: 0, limit: 10, now: now + 1000 })
      expect(page.registrations).to.deep.equal([later])
      expect(page.cursor).to.equal(last.sequence)

      const full = await store.discover({ namespace: 'ns', after: 0, limit: 1, now: now + 1000 })
      expect(full.registrations).to.deep.equal([later])
      expect(full.cursor).to.equal(later.sequence)
      expect(soon.sequence).to.be.lessThan(later.sequence)
    })
    it('bounds the expired registrations one request skips, and the next request carries on', async () => {
      const store = await startStore()
      const now = Date.now()
      const expired = await Promise.all(Array.from({ length: REDIS_DISCOVER_MAX_SKIPPED + 20 }, async (_, i) => store.put({ ...registration(`peer-${i}`, 'ns'), expiresAt: now + 1000 }, { maxRegistrationsPerPeer: 10, maxRegistrations: 10_000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 })))
      const live = await store.put(registration('peer-live', 'ns'), { maxRegistrationsPerPeer: 10, maxRegistrations: 10_000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 })
      const sequences = expired.map(r => r.sequence).sort((a, b) => a - b)

      const first = await store.discover({ namespace: 'ns', after: 0, limit: 10, now: now + 1000 })
      expect(first.registrations).to.be.empty()
      expect(first.cursor).to.equal(sequences[REDIS_DISCOVER_MAX_SKIPPED + 10 - 1])

      const second = await store.discover({ namespace: 'ns', after: first.cursor, limit: 10, now: now + 1000 })
      expect(second.registrations).to.deep.equal([live])
    })
  })

  describe('expiry', () => {
    it('removes expired registrations in bounded batches, index entries and data', async () => {
      const store = await startStore()

      for (let i = 0; i < 25; i++) {
        await store.put(registration(`peer-${i}`, `ns-${i % 3}`, 100), { maxRegistrationsPerPeer: 10, maxRegistrations: 1000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 })
      }

      const live = await store.put(registration('peer-live', 'ns-0'), LIMITS)
      await delay(200)
      const now = Date.now()

      expect(await store.removeExpired(now, 10)).to.equal(10)
      expect(await store.count()).to.equal(16)
      expect(await store.removeExpired(now, 10)).to.equal(10)
      expect(await store.removeExpired(now, 10)).to.equal(5)
      expect(await store.removeExpired(now, 10)).to.equal(0)
      expect(await store.count()).to.equal(1)
      expect(await all(store)).to.deep.equal([live])

      expect(await keys()).to.deep.equal([
        `${PREFIX}all`,
        `${PREFIX}bytes`,
        `${PREFIX}cost`,
        `${PREFIX}expiry`,
        `${PREFIX}ns:ns-0`,
        `${PREFIX}peer:peer-live`,
        `${PREFIX}reg:9:peer-live:ns-0`,
        `${PREFIX}seq`
      ])
    })

    it('sweeps on its own while started', async () => {
      const store = await startStore({ expiryInterval: 100 })
      await store.put(registration('peer-a', 'ns', 100), LIMITS)
      await store.put(registration('peer-b', 'ns'), LIMITS)

      for (let i = 0; i < 50 && await store.count() > 1; i++) {
        await delay(50)
      }

      expect(await store.count()).to.equal(1)
    })

    it('gives the data of each registration a Redis TTL, so it is reclaimed even with no point sweeping', async () => {
      const store = await startStore()
      const a = await store.put(registration('peer-a', 'ns', 60_000), LIMITS)
      const b = await store.put(registration('peer-b', 'ns', 30_000), LIMITS)

      expect(await admin.pExpireTime(`${PREFIX}reg:6:peer-a:ns`)).to.equal(a.expiresAt + REDIS_KEY_TTL_GRACE)
      expect(await admin.pExpireTime(`${PREFIX}reg:6:peer-b:ns`)).to.equal(b.expiresAt + REDIS_KEY_TTL_GRACE)
      // per-peer indexes live as long as their last entry; a namespace's
      // index counts against maxStoreBytes until its last registration is
      // removed, so it has no TTL of its own
      expect(await admin.pExpireTime(`${PREFIX}peer:peer-b`)).to.equal(b.expiresAt + REDIS_KEY_TTL_GRACE)
      expect(await admin.pExpireTime(`${PREFIX}ns:ns`)).to.equal(-1)

      // a registration whose data Redis already dropped is never served,
      // and its cost still goes when it is swept
      await admin.del(`${PREFIX}reg:6:peer-a:ns`)
      expect(await all(store, 'ns')).to.deep.equal([b])
      await store.removeExpired(a.expiresAt, 10)
      expect(await store.count()).to.equal(0)
      expect(await admin.get(`${PREFIX}bytes`)).to.equal('0')
    })
  })

  describe('setup', () => {
    it('gives every store sharing the prefix the same cookie secret', async () => {
      const a = await startStore()
      const b = await startStore()
      const [secretA, secretB] = await Promise.all([a.cookieSecret(), b.cookieSecret()])

      expect(secretA).to.have.lengthOf(32)
      expect(secretB).to.deep.equal(secretA)
      expect(await (await startStore({ prefix: 'other:' })).cookieSecret()).to.not.deep.equal(secretA)
    })

    it('fails to start, saying why, when Redis is unreachable', async () => {
      const store = new RedisRegistrationStore({ url: 'redis://127.0.0.1:1' })
      await expect(store.start()).to.eventually.be.rejectedWith(UnavailableError, /could not connect to redis at redis:\/\/127\.0\.0\.1:1/)
      await store.stop()
    })

    it('refuses a URL that is not redis:// or rediss://', () => {
      for (const url of ['http://127.0.0.1:6379', 'not a url', 'redis://', 'redis://host:6379/db', 'redis://host:99999']) {
        expect(() => new RedisRegistrationStore({ url }), url).to.throw(InvalidOptionError)
      }
    })

    it('refuses bad options at construction, naming them', () => {
      const cases: Array<[Record<string, number>, string]> = [
        [{ expiryBatchSize: 0 }, 'expiryBatchSize'],
        [{ commandTimeout: 2 ** 31 }, 'commandTimeout'],
        [{ expiryInterval: -1 }, 'expiryInterval'],
        [{ expiryInterval: 2 ** 31 }, 'expiryInterval']
      ]

      for (const [init, option] of cases) {
        expect(() => new RedisRegistrationStore({ url: 'redis://127.0.0.1:1', ...init }), option).to.throw(InvalidOptionError).with.property('option', option)
      }
    })

    it('refuses every call after stop with UnavailableError, and makes no new client', async () => {
      const store = await startStore()
      await store.put(registration('peer-a', 'ns'), LIMITS)
      await store.stop()
      const clients = async (): Promise<number> => String(await admin.sendCommand(['CLIENT', 'LIST'])).trim().split('\n').length

      const before = await clients()
      const calls = [
        async () => store.count(),
        async () => store.put(registration('peer-b', 'ns'), LIMITS),
        async () => store.delete('peer-a', 'ns'),
        async () => store.discover({ after: 0, limit: 10, now: Date.now() }),
        async () => store.removeExpired(Date.now(), 10),
        async () => store.cookieSecret()
      ]

      for (const call of calls) {
        await expect(call()).to.eventually.be.rejectedWith(UnavailableError, 'the registration store is stopped')
      }

      expect(await clients()).to.equal(before)

      // and it starts again
      await store.start()
      expect(await store.count()).to.equal(1)
    })

    it('lets the process exit once stopped, even when called after stop', async function () {
      // a process that would stay alive while anything holds a connection
      const script = `
        import { RedisRegistrationStore } from ${JSON.stringify(new URL('../dist/src/index.js', import.meta.url).href)}
        const store = new RedisRegistrationStore({ url: ${JSON.stringify(redis.url)} })
        await store.start()
        await store.stop()
        await store.count().catch(err => { process.stdout.write(err.name + '\\n') })
      `
      const child = children.spawn(process.execPath, ['--input-type=module', '-e', script])
      const timer = setTimeout(() => { child.process.kill('SIGKILL') }, 10_000)
      const code = await child.exited
      clearTimeout(timer)

      expect(child.stdout).to.deep.equal(['UnavailableError'])
      // it exited on its own, not killed after 10 s
      expect(code).to.equal(0)
    })

    it('uses a client of the caller, and leaves it open on stop', async () => {
      const client = createClient({ url: redis.url })
      client.on('error', () => {})
      const store = new RedisRegistrationStore({ client, prefix: PREFIX })
      await store.start()
      await store.put(registration('peer-a', 'ns'), LIMITS)
      await store.stop()

      expect(client.isOpen).to.be.true()
      expect(await client.zCard(`${PREFIX}all`)).to.equal(1)
      await client.close()
    })
  })
})

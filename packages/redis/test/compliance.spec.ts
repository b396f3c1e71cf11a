import { registrationStoreTests } from 'libp2p-rendezvous-store-tests'
import { startRedis } from 'libp2p-rendezvous-testing/node'
import { RedisRegistrationStore } from '../src/index.ts'
import type { TestRedis } from 'libp2p-rendezvous-testing/node'

describe('RedisRegistrationStore', () => {
  let redis: TestRedis
  let stores = 0

  before(async () => {
    redis = await startRedis()
  })

  after(async () => {
    await redis?.stop()
  })

  registrationStoreTests({
    async setup () {
      // a prefix of its own: a new, empty store on the same server
      const store = new RedisRegistrationStore({ url: redis.url, prefix: `compliance-${stores++}:` })
      await store.start()
      return store
    },
    async teardown (store) {
      await store.stop()
    }
  })
})

import { registrationStoreTests } from 'libp2p-rendezvous-store-tests'
import { Children, startRedis } from 'libp2p-rendezvous-testing/node'
import { RedisRegistrationStore } from '../src/index.ts'
import type { TestRedis } from 'libp2p-rendezvous-testing/node'

describe('RedisRegistrationStore', () => {
  const children = new Children()
  let redis: TestRedis
  let stores = 0

  before(async () => {
    redis = await startRedis(children)
  })

  after(async () => {
    await children.stopAll()
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

import { defaultLogger } from '@libp2p/logger'
import { MemoryDatastore } from 'datastore-core'
import { DatastoreRegistrationStore, MemoryRegistrationStore } from 'libp2p-rendezvous'
import { registrationStoreTests } from '../src/index.ts'

describe('MemoryRegistrationStore', () => {
  registrationStoreTests({
    async setup () {
      const store = new MemoryRegistrationStore()
      store.start()
      return store
    },
    async teardown (store) {
      store.stop()
    }
  })
})

describe('DatastoreRegistrationStore', () => {
  registrationStoreTests({
    async setup () {
      const store = new DatastoreRegistrationStore({ datastore: new MemoryDatastore(), logger: defaultLogger() })
      await store.start()
      return store
    },
    async teardown (store) {
      store.stop()
    }
  })
})

/**
 * `DatastoreRegistrationStore` on the real LevelDB (`datastore-level` in a
 * temporary directory), where writes of one key issued together may be
 * applied in any order
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { defaultLogger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import { LevelDatastore } from 'datastore-level'
import { DatastoreRegistrationStore } from '../../src/server/datastore-store.ts'
import type { NewRegistration, Registration, RegistrationLimits } from '../../src/server/registration-store.ts'

const LIMITS: RegistrationLimits = { maxRegistrationsPerPeer: 10, maxRegistrations: 100_000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }
const KEYS = 5000

describe('datastore registration store on LevelDB', function () {
  this.timeout(120_000)

  let dir: string
  let datastore: LevelDatastore
  let stores: DatastoreRegistrationStore[]

  async function openStore (): Promise<DatastoreRegistrationStore> {
    datastore = new LevelDatastore(dir)
    await datastore.open()
    const store = new DatastoreRegistrationStore({ datastore, logger: defaultLogger() })
    await store.start()
    stores.push(store)
    return store
  }

  /**
   * What was served before and is not after, and the other way round
   */
  function difference (before: string[], after: string[]): { lost: string[], back: string[] } {
    return { lost: before.filter(key => !after.includes(key)), back: after.filter(key => !before.includes(key)) }
  }

  async function served (store: DatastoreRegistrationStore): Promise<string[]> {
    const found: Registration[] = []
    let after = 0

    for (;;) {
      const page = await store.discover({ after, limit: 1000, now: Date.now() })
      found.push(...page.registrations)

      if (page.registrations.length === 0) {
        return found.map(registration => `${registration.peerId}/${registration.namespace}`).sort()
      }

      after = page.cursor
    }
  }

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rendezvous-level-test-'))
    stores = []
  })

  afterEach(async () => {
    await Promise.all(stores.map(async store => store.stop()))
    await datastore?.close()
    await rm(dir, { recursive: true, force: true })
  })

  it(`brings back after a restart exactly what it served before, when REGISTER races UNREGISTER for ${KEYS} keys`, async () => {
    const store = await openStore()
    const record = Uint8Array.from({ length: 200 }, (_, i) => i)

    // as the point does for a REGISTER and an UNREGISTER arriving together:
    // one decides after the other, both writes are in flight at once
    await Promise.all(Array.from({ length: KEYS }, async (_, i) => {
      const peerId = `peer-${i}`
      const put = store.put({ peerId, namespace: 'ns', signedPeerRecord: record, expiresAt: Date.now() + 3_600_000 }, LIMITS)
      const unregister = store.delete(peerId, 'ns')
      await Promise.all([put, unregister])
    }))
    // and the other way round: UNREGISTER decided first, then REGISTER
    await Promise.all(Array.from({ length: KEYS }, async (_, i) => {
      const peerId = `peer-${i}`
      const unregister = store.delete(peerId, 'other')
      const put = store.put({ peerId, namespace: 'other', signedPeerRecord: record, expiresAt: Date.now() + 3_600_000 }, LIMITS)
      await Promise.all([put, unregister])
    }))

    const before = await served(store)
    expect(before).to.have.lengthOf(KEYS)
    await store.stop()
    await datastore.close()

    const restarted = await openStore()
    expect(difference(before, await served(restarted))).to.deep.equal({ lost: [], back: [] })
  })

  it('issues and finishes every write decided before stop() resolves', async () => {
    const store = await openStore()
    const record = Uint8Array.from({ length: 200 }, (_, i) => i)
    const registration = (i: number): NewRegistration => ({ peerId: `peer-${i}`, namespace: 'ns', signedPeerRecord: record, expiresAt: Date.now() + 3_600_000 })
    // three changes of each key: the last two wait for the one before
    const writes = Array.from({ length: KEYS }, async (_, i) => Promise.all([
      store.put(registration(i), LIMITS),
      store.delete(`peer-${i}`, 'ns'),
      store.put(registration(i), LIMITS)
    ]))
    const before = await served(store)
    expect(before).to.have.lengthOf(KEYS)

    // the command closes the datastore as soon as the point has stopped
    await store.stop()
    await datastore.close()
    const failed = (await Promise.allSettled(writes)).filter(result => result.status === 'rejected')
    expect(failed).to.have.lengthOf(0)

    const restarted = await openStore()
    expect(difference(before, await served(restarted))).to.deep.equal({ lost: [], back: [] })
  })
})

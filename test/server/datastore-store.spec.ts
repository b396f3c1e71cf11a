import { defaultLogger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import sinon from 'sinon'
import { InternalError } from '../../src/errors.ts'
import { DatastoreRegistrationStore } from '../../src/server/datastore-store.ts'
import type { NewRegistration, RegistrationLimits } from '../../src/server/registration-store.ts'

const LIMITS: RegistrationLimits = { maxRegistrationsPerPeer: 10, maxRegistrations: 100, maxStoreBytes: 1024 ** 3 }

describe('datastore registration store', () => {
  let datastore: MemoryDatastore
  let clock: sinon.SinonFakeTimers
  let stores: DatastoreRegistrationStore[]

  function registration (peerId: string, namespace: string, ttl = 60_000): NewRegistration {
    return { peerId, namespace, signedPeerRecord: Uint8Array.from([1, 2, 3]), expiresAt: Date.now() + ttl }
  }

  async function startStore (): Promise<DatastoreRegistrationStore> {
    const store = new DatastoreRegistrationStore({ datastore, logger: defaultLogger() }, { expiryInterval: 1000 })
    await store.start()
    stores.push(store)
    return store
  }

  async function keys (): Promise<string[]> {
    const found = []
    for await (const { key } of datastore.query({ prefix: '/rendezvous/registrations' })) {
      found.push(key.toString())
    }
    return found
  }

  beforeEach(() => {
    datastore = new MemoryDatastore()
    clock = sinon.useFakeTimers({ now: 1_700_000_000_000 })
    stores = []
  })

  afterEach(() => {
    stores.forEach(store => { store.stop() })
    clock.restore()
  })

  it('gives back, after a restart, every registration with its sequence and expiry', async () => {
    const first = await startStore()
    const a = await first.put(registration('peer-a', 'ns'), LIMITS)
    const b = await first.put(registration('peer-b', 'other ns/with:odd chars', 120_000), LIMITS)
    first.stop()

    const second = await startStore()
    expect(second.count()).to.equal(2)
    const page = await second.discover({ after: 0, limit: 10, now: Date.now() })
    expect(page.registrations).to.deep.equal([a, b])
  })

  it('keeps sequences increasing across a restart, so old cookies see only what is new', async () => {
    const first = await startStore()
    const a = await first.put(registration('peer-a', 'ns'), LIMITS)
    first.stop()

    // the clock stands still: sequences must not repeat all the same
    const second = await startStore()
    const b = await second.put(registration('peer-b', 'ns'), LIMITS)
    expect(b.sequence).to.be.greaterThan(a.sequence)

    const page = await second.discover({ namespace: 'ns', after: a.sequence, limit: 10, now: Date.now() })
    expect(page.registrations.map(r => r.peerId)).to.deep.equal(['peer-b'])
  })

  it('drops registrations that expired while stopped, from memory and from the datastore', async () => {
    const first = await startStore()
    await first.put(registration('peer-a', 'ns', 10_000), LIMITS)
    await first.put(registration('peer-b', 'ns', 60_000), LIMITS)
    first.stop()

    clock.tick(30_000)
    const second = await startStore()
    expect(second.count()).to.equal(1)
    expect(await keys()).to.have.lengthOf(1)
  })

  it('deletes a registration from the datastore when it expires while running', async () => {
    const store = await startStore()
    await store.put(registration('peer-a', 'ns', 5_000), LIMITS)
    expect(await keys()).to.have.lengthOf(1)

    await clock.tickAsync(6_000)
    expect(store.count()).to.equal(0)
    expect(await keys()).to.be.empty()
  })

  it('overwrites on refresh and deletes on unregister', async () => {
    const store = await startStore()
    await store.put(registration('peer-a', 'ns'), LIMITS)
    const refreshed = await store.put(registration('peer-a', 'ns', 90_000), LIMITS)
    expect(await keys()).to.have.lengthOf(1)

    stores.pop()?.stop()
    const restarted = await startStore()
    expect((await restarted.discover({ after: 0, limit: 10, now: Date.now() })).registrations).to.deep.equal([refreshed])

    await restarted.delete('peer-a', 'ns')
    expect(await keys()).to.be.empty()
    expect(restarted.count()).to.equal(0)
  })

  it('refuses, and forgets, a registration it could not write', async () => {
    const store = await startStore()
    sinon.stub(datastore, 'put').rejects(new Error('disk full'))

    await expect(store.put(registration('peer-a', 'ns'), LIMITS)).to.eventually.be.rejectedWith(InternalError)
    expect(store.count()).to.equal(0)
  })

  it('enforces the caps of the memory store', async () => {
    const store = await startStore()
    await store.put(registration('peer-a', 'a'), { maxRegistrationsPerPeer: 1, maxRegistrations: 10, maxStoreBytes: 1024 ** 3 })

    await expect(store.put(registration('peer-a', 'b'), { maxRegistrationsPerPeer: 1, maxRegistrations: 10, maxStoreBytes: 1024 ** 3 }))
      .to.eventually.be.rejected.with.property('name', 'NotAuthorizedError')
    expect(await keys()).to.have.lengthOf(1)
  })
})

import { defaultLogger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import { MemoryDatastore } from 'datastore-core'
import sinon from 'sinon'
import { InternalError } from '../../src/errors.ts'
import { DatastoreRegistrationStore } from '../../src/server/datastore-store.ts'
import type { NewRegistration, Registration, RegistrationLimits } from '../../src/server/registration-store.ts'
import type { AbortOptions } from '@libp2p/interface'
import type { Key } from 'interface-datastore'

/**
 * A write the datastore holds until the test lets it through or fails it
 */
interface HeldWrite {
  op: 'put' | 'delete'
  key: string
  pass(): void
  fail(err: Error): void
}

/**
 * A datastore whose writes, while `hold` is set, wait for the test
 */
class HeldDatastore extends MemoryDatastore {
  hold = false
  private readonly held: HeldWrite[] = []
  private arrived?: () => void

  async put (key: Key, value: Uint8Array, options?: AbortOptions): Promise<Key> {
    await this.gate('put', key)
    return super.put(key, value, options)
  }

  async delete (key: Key, options?: AbortOptions): Promise<void> {
    await this.gate('delete', key)
    await super.delete(key, options)
  }

  /**
   * Every write held now, newest first: the worst order for a datastore to
   * apply them in
   */
  newestFirst (): HeldWrite[] {
    return this.held.splice(0).reverse()
  }

  /**
   * The next write held, once it arrives
   */
  async next (): Promise<HeldWrite> {
    while (this.held.length === 0) {
      await new Promise<void>(resolve => { this.arrived = resolve })
    }

    return this.held.shift() as HeldWrite
  }

  private async gate (op: HeldWrite['op'], key: Key): Promise<void> {
    if (!this.hold) {
      return
    }

    await new Promise<void>((resolve, reject) => {
      this.held.push({ op, key: key.toString(), pass: resolve, fail: reject })
      this.arrived?.()
    })
  }
}

const LIMITS: RegistrationLimits = { maxRegistrationsPerPeer: 10, maxRegistrations: 100, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }

describe('datastore registration store', () => {
  let datastore: HeldDatastore
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
    datastore = new HeldDatastore()
    clock = sinon.useFakeTimers({ now: 1_700_000_000_000 })
    stores = []
  })

  afterEach(async () => {
    datastore.hold = false
    await Promise.all(stores.map(async store => store.stop()))
    clock.restore()
  })

  it('gives back, after a restart, every registration with its sequence and expiry', async () => {
    const first = await startStore()
    const a = await first.put(registration('peer-a', 'ns'), LIMITS)
    const b = await first.put(registration('peer-b', 'other ns/with:odd chars', 120_000), LIMITS)
    await first.stop()

    const second = await startStore()
    expect(second.count()).to.equal(2)
    const page = await second.discover({ after: 0, limit: 10, now: Date.now() })
    expect(page.registrations).to.deep.equal([a, b])
  })

  it('lists with discoverHeld the page of discover, and through the discover of a subclass that changes it', async () => {
    const store = await startStore()
    const a = await store.put(registration('peer-a', 'ns'), LIMITS)
    await store.put(registration('peer-b', 'ns'), LIMITS)

    const held = await store.discoverHeld({ namespace: 'ns', after: 0, limit: 1, now: Date.now() })
    expect(held.registrations).to.deep.equal([{ namespace: 'ns', expiresAt: a.expiresAt, signedPeerRecord: '\x01\x02\x03' }])
    expect(held.cursor).to.equal(a.sequence)

    class Counting extends DatastoreRegistrationStore {
      discovers = 0

      async discover (...args: Parameters<DatastoreRegistrationStore['discover']>): ReturnType<DatastoreRegistrationStore['discover']> {
        this.discovers++
        return super.discover(...args)
      }
    }

    const counting = new Counting({ datastore: new HeldDatastore(), logger: defaultLogger() })
    await counting.start()
    stores.push(counting)
    await counting.put(registration('peer-a', 'ns'), LIMITS)

    const page = await counting.discoverHeld({ namespace: 'ns', after: 0, limit: 10, now: Date.now() })
    expect(counting.discovers).to.equal(1)
    expect(page.registrations).to.have.lengthOf(1)
  })

  it('keeps sequences increasing across a restart, so old cookies see only what is new', async () => {
    const first = await startStore()
    const a = await first.put(registration('peer-a', 'ns'), LIMITS)
    await first.stop()

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
    await first.stop()

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

    await stores.pop()?.stop()
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

  describe('writes that fail or wait', () => {
    async function served (store: DatastoreRegistrationStore): Promise<Registration[]> {
      return (await store.discover({ after: 0, limit: 100, now: Date.now() })).registrations
    }

    /**
     * What a store started on the same datastore serves, as (peer, record)
     */
    async function afterRestart (): Promise<Array<[string, number[]]>> {
      const restarted = await startStore()
      return (await served(restarted)).map(r => [r.peerId, [...r.signedPeerRecord]])
    }

    function withRecord (peerId: string, record: number[]): NewRegistration {
      return { ...registration(peerId, 'ns'), signedPeerRecord: Uint8Array.from(record) }
    }

    it('never lets a failed write roll back a later registration that was acknowledged', async () => {
      const store = await startStore()
      datastore.hold = true

      const a = store.put(withRecord('peer-a', [1]), LIMITS)
      const b = store.put(withRecord('peer-a', [2]), LIMITS)
      const writeOfA = await datastore.next()
      writeOfA.fail(new Error('disk on fire'))
      await expect(a).to.eventually.be.rejectedWith(InternalError)

      ;(await datastore.next()).pass()
      const acknowledged = await b
      expect(await served(store)).to.deep.equal([acknowledged])

      datastore.hold = false
      expect(await afterRestart()).to.deep.equal([['peer-a', [2]]])
    })

    const failedWrites: Array<[string, (store: DatastoreRegistrationStore) => Promise<unknown>]> = [
      ['a REGISTER replacing it', async store => store.put(withRecord('peer-a', [2]), LIMITS)],
      ['an UNREGISTER of it', async store => store.delete('peer-a', 'ns')]
    ]

    failedWrites.forEach(([what, write]) => {
      it(`serves again an acknowledged registration when ${what} cannot be written, as the datastore still holds it`, async () => {
        const store = await startStore()
        await store.put(withRecord('peer-a', [1]), LIMITS)
        datastore.hold = true

        const failing = write(store)
        ;(await datastore.next()).fail(new Error('disk on fire'))
        await expect(failing).to.eventually.be.rejectedWith(InternalError)

        expect((await served(store)).map(r => [...r.signedPeerRecord])).to.deep.equal([[1]])
        datastore.hold = false
        expect(await afterRestart()).to.deep.equal([['peer-a', [1]]])
      })
    })

    it('writes the delete of an expired registration before a registration of the same peer and namespace that follows it', async () => {
      const store = await startStore()
      await store.put({ ...withRecord('peer-a', [1]), expiresAt: Date.now() + 5_000 }, LIMITS)
      datastore.hold = true

      // the sweep drops it, and its delete waits in the datastore
      await clock.tickAsync(6_000)
      const expiryDelete = await datastore.next()
      expect(expiryDelete.op).to.equal('delete')

      const again = store.put(withRecord('peer-a', [2]), LIMITS)
      // any write the registration issues at once arrives
      await clock.tickAsync(0)
      datastore.hold = false
      datastore.newestFirst().forEach(write => { write.pass() })
      expiryDelete.pass()
      await again

      datastore.hold = false
      expect(await afterRestart()).to.deep.equal([['peer-a', [2]]])
    })
  })

  it('enforces the caps of the memory store', async () => {
    const store = await startStore()
    await store.put(registration('peer-a', 'a'), { maxRegistrationsPerPeer: 1, maxRegistrations: 10, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 })

    await expect(store.put(registration('peer-a', 'b'), { maxRegistrationsPerPeer: 1, maxRegistrations: 10, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 }))
      .to.eventually.be.rejected.with.property('name', 'NotAuthorizedError')
    expect(await keys()).to.have.lengthOf(1)
  })
})

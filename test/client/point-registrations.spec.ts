import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import sinon from 'sinon'
import { PointRegistrations, refreshDelay } from '../../src/client/point-registrations.ts'
import { NotSentError } from '../../src/client/rendezvous-point.ts'
import { InvalidTTLError } from '../../src/errors.ts'
import { newPrivateKey } from '../fixtures/nodes.ts'
import type { OwnRecord } from '../../src/client/own-record.ts'
import type { PointRequestOptions } from '../../src/client/rendezvous-point.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'

/**
 * A point whose answers the test decides: `answer` is called with each
 * REGISTER; `heldUntil` is its backoff
 */
class StubPoint {
  peerId: PeerId
  heldUntil = 0
  registers: Array<{ namespace: string, ttl: number, at: number, options: PointRequestOptions }> = []
  unregisters: Array<{ namespace: string, at: number, options: AbortOptions }> = []
  answer: (namespace: string) => Promise<number> = async () => 10_000

  constructor (peerId: PeerId) {
    this.peerId = peerId
  }

  heldFor (): number {
    return Math.max(0, this.heldUntil - Date.now())
  }

  async register (request: { namespace: string, ttl: number }, record: OwnRecord, options: PointRequestOptions = {}): Promise<number> {
    if (options.cancel?.aborted === true) {
      throw new NotSentError('cancelled')
    }

    this.registers.push({ ...request, at: Date.now(), options })
    return this.answer(request.namespace)
  }

  async unregister (namespace: string, options: AbortOptions = {}): Promise<void> {
    this.unregisters.push({ namespace, at: Date.now(), options })
  }
}

describe('point registrations', () => {
  let clock: sinon.SinonFakeTimers
  let point: StubPoint
  let wanted: Map<string, number>
  let hasAddresses: boolean
  let registrations: PointRegistrations

  beforeEach(async () => {
    point = new StubPoint(peerIdFromPrivateKey(await newPrivateKey()))
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    wanted = new Map([['ns', 7_200_000]])
    hasAddresses = true
    registrations = new PointRegistrations({
      point,
      record: { hasAddresses: () => hasAddresses } as unknown as OwnRecord,
      wanted,
      maxReconnectDelay: 60_000,
      log: defaultLogger().forComponent('test')
    })
  })

  afterEach(async () => {
    await registrations.stop()
    clock.restore()
  })

  it('registers every wanted namespace on start, then again at 80 % of the granted TTL', async () => {
    wanted.set('other', 7_200_000)
    registrations.start()
    await clock.tickAsync(0)
    expect(point.registers.map(r => r.namespace)).to.deep.equal(['ns', 'other'])
    expect(point.registers[0].options.background).to.be.true()

    await clock.tickAsync(7999)
    expect(point.registers).to.have.lengthOf(2)
    await clock.tickAsync(1)
    expect(point.registers).to.have.lengthOf(4)
    expect(point.registers[2].at - point.registers[0].at).to.equal(8000)
  })

  it('refreshes no sooner than 80 % of 10 s at a point granting far less than asked, or of the TTL asked when shorter', () => {
    expect(refreshDelay(1000, 7_200_000)).to.equal(8000)
    expect(refreshDelay(0, 7_200_000)).to.equal(8000)
    expect(refreshDelay(1000, 2000)).to.equal(1600)
    expect(refreshDelay(60_000, 60_000)).to.equal(48_000)
    expect(refreshDelay(3_600_000, 7_200_000)).to.equal(2_880_000)
  })

  it('retries a refused registration after its own backoff, a failed point after the point\'s', async () => {
    point.answer = async () => { throw new InvalidTTLError() }
    await expect(registrations.register('ns')).to.eventually.be.rejectedWith(InvalidTTLError)

    // the first wait is 0.5 to 1 s
    await clock.tickAsync(499)
    expect(point.registers).to.have.lengthOf(1)
    await clock.tickAsync(501)
    expect(point.registers).to.have.lengthOf(2)

    point.answer = async () => {
      point.heldUntil = Date.now() + 30_000
      throw new Error('no connection')
    }
    await clock.tickAsync(2000)
    const failedAt = point.registers.at(-1)?.at ?? 0
    point.answer = async () => 10_000

    await clock.tickAsync(failedAt + 29_999 - Date.now())
    expect(point.registers.at(-1)?.at).to.equal(failedAt)
    await clock.tickAsync(1)
    expect(point.registers.at(-1)?.at).to.equal(failedAt + 30_000)
  })

  it('joins a REGISTER in flight when asked to register everything again', async () => {
    const answered = Promise.withResolvers<number>()
    point.answer = async () => answered.promise
    registrations.start()
    await clock.tickAsync(0)

    registrations.registerAll()
    registrations.registerAll()
    answered.resolve(10_000)
    await clock.tickAsync(0)

    expect(point.registers).to.have.lengthOf(1)
    registrations.registerAll()
    await clock.tickAsync(0)
    expect(point.registers).to.have.lengthOf(2)
  })

  it('sends an UNREGISTER only after the REGISTER in flight for that namespace', async () => {
    const answered = Promise.withResolvers<number>()
    point.answer = async () => answered.promise
    const registering = registrations.register('ns', {})
    await clock.tickAsync(0)
    expect(point.registers).to.have.lengthOf(1)

    wanted.delete('ns')
    const unregistering = registrations.unregister('ns')
    await clock.tickAsync(100)
    expect(point.unregisters).to.be.empty()

    answered.resolve(10_000)
    await registering
    await unregistering
    expect(point.unregisters.map(u => u.namespace)).to.deep.equal(['ns'])

    // and no refresh is left for it
    await clock.tickAsync(60_000)
    expect(point.registers).to.have.lengthOf(1)
  })

  it('does not unregister what the point refused, nor what was never sent', async () => {
    wanted.set('refused', 7_200_000)
    point.answer = async (namespace) => {
      if (namespace === 'refused') {
        throw new InvalidTTLError()
      }

      return 10_000
    }

    await registrations.register('ns')
    await expect(registrations.register('refused')).to.eventually.be.rejected()
    wanted.set('never', 7_200_000)

    await registrations.stop()
    expect(point.unregisters.map(u => u.namespace)).to.deep.equal(['ns'])
  })

  it('on stop, cancels the REGISTERs not yet sent, lets the one in flight end, then unregisters it, and leaves no timer', async () => {
    const answered = Promise.withResolvers<number>()
    point.answer = async () => answered.promise
    const registering = registrations.register('ns')
    await clock.tickAsync(0)

    const stopping = registrations.stop({ signal: AbortSignal.timeout(10_000) })
    // the refresh of another namespace, due now, is not sent
    wanted.set('later', 7_200_000)
    registrations.registerAll()
    await clock.tickAsync(0)

    answered.resolve(10_000)
    await registering
    await stopping

    expect(point.registers.map(r => r.namespace)).to.deep.equal(['ns'])
    expect(point.unregisters.map(u => u.namespace)).to.deep.equal(['ns'])
    expect(point.unregisters[0].options.signal?.aborted).to.be.false()
    expect(clock.countTimers()).to.equal(0)
  })

  it('waits for an address before registering in the background, and registers once registerAll() is called', async () => {
    hasAddresses = false
    registrations.start()
    await clock.tickAsync(60_000)
    expect(point.registers).to.be.empty()

    hasAddresses = true
    registrations.registerAll()
    await clock.tickAsync(0)
    expect(point.registers).to.have.lengthOf(1)
  })

  it('tells when the last registration the point holds was sent and acknowledged', async () => {
    expect(registrations.lastRegistration('ns')).to.be.undefined()
    await clock.tickAsync(5)
    point.answer = async () => {
      await new Promise(resolve => setTimeout(resolve, 20))
      return 10_000
    }
    const registering = registrations.register('ns')
    await clock.tickAsync(20)
    await registering
    expect(registrations.lastRegistration('ns')).to.deep.equal({ sentAt: 1_000_005, acknowledgedAt: 1_000_025 })

    wanted.delete('ns')
    await registrations.unregister('ns')
    expect(registrations.lastRegistration('ns')).to.be.undefined()
  })
})

import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { rendezvousServer } from 'libp2p-rendezvous'
import { createTcpNode } from 'libp2p-rendezvous-testing/node'
import { pEvent } from 'p-event'
import sinon from 'sinon'
import { parseFlags } from '../src/flags.ts'
import { pointNodeOptions } from '../src/node.ts'
import { ADDRESS_EVENTS, OWN_ADDRESSES_LIFETIME, OwnAddresses } from '../src/own-addresses.ts'
import type { PointNodeServices } from '../src/node.ts'
import type { IdentifyResult, Libp2p, Libp2pEvents, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * An address manager whose addresses a test sets, counting how often it
 * works them out, with a method that needs to be called on it
 */
class FakeAddressManager {
  addresses: Multiaddr[] = [multiaddr('/ip4/127.0.0.1/tcp/1')]
  workedOut = 0
  observed: string[] = []

  getAddresses (): Multiaddr[] {
    this.workedOut++
    return [...this.addresses]
  }

  addObservedAddr (address: Multiaddr): void {
    this.observed.push(address.toString())
  }
}

describe('own addresses', () => {
  let source: FakeAddressManager
  let events: EventTarget
  let own: OwnAddresses

  beforeEach(() => {
    source = new FakeAddressManager()
    events = new EventTarget()
    own = new OwnAddresses({ addressManager: source as unknown as AddressManager, events: events as TypedEventTarget<Libp2pEvents> })
    own.beforeStart()
  })

  afterEach(() => {
    own.afterStop()
    sinon.restore()
  })

  it('works the addresses out once for any number of calls, and hands out copies', () => {
    const first = own.addressManager.getAddresses()
    first.pop()

    for (let i = 0; i < 5; i++) {
      expect(own.addressManager.getAddresses().map(String)).to.deep.equal(['/ip4/127.0.0.1/tcp/1'])
    }

    expect(source.workedOut).to.equal(1)
  })

  ADDRESS_EVENTS.forEach(event => {
    it(`works them out again after ${event}`, () => {
      own.getAddresses()
      source.addresses = [multiaddr('/ip4/127.0.0.1/tcp/2')]
      events.dispatchEvent(new CustomEvent(event))

      expect(own.getAddresses().map(String)).to.deep.equal(['/ip4/127.0.0.1/tcp/2'])
      expect(source.workedOut).to.equal(2)
    })
  })

  it('works them out again once they are OWN_ADDRESSES_LIFETIME old, and when the clock went back', () => {
    const clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    own.getAddresses()

    clock.tick(OWN_ADDRESSES_LIFETIME - 1)
    own.getAddresses()
    expect(source.workedOut).to.equal(1)

    // an interface came up: no event tells
    source.addresses.push(multiaddr('/ip4/10.0.0.1/tcp/1'))
    clock.tick(1)
    expect(own.getAddresses()).to.have.lengthOf(2)
    expect(source.workedOut).to.equal(2)

    clock.setSystemTime(1_000_000 - OWN_ADDRESSES_LIFETIME)
    own.getAddresses()
    expect(source.workedOut).to.equal(3)
  })

  it('leaves everything else to the address manager, called on it, which still works its addresses out itself', () => {
    own.addressManager.addObservedAddr(multiaddr('/ip4/203.0.113.1/tcp/4001'))
    expect(source.observed).to.deep.equal(['/ip4/203.0.113.1/tcp/4001'])

    own.getAddresses()
    source.getAddresses()
    expect(source.workedOut).to.equal(2)
  })

  it('stops listening once stopped', () => {
    own.afterStop()
    own.getAddresses()
    events.dispatchEvent(new CustomEvent('transport:listening'))
    own.getAddresses()

    expect(source.workedOut).to.equal(1)
  })

  describe('in the command\'s node', function () {
    this.timeout(30_000)
    let point: Libp2p<PointNodeServices>
    let clients: Libp2p[]

    beforeEach(async () => {
      clients = []
      point = await createLibp2p(pointNodeOptions(parseFlags(['--memory', '--listen', '/ip4/127.0.0.1/tcp/0']), await generateKeyPair('Ed25519'), {
        rendezvousServer: rendezvousServer()
      }))
    })

    afterEach(async () => {
      await Promise.all(clients.map(async client => client.stop()))
      await point.stop()
    })

    async function identified (address: Multiaddr): Promise<IdentifyResult> {
      const client = await createTcpNode({ services: { identify: identify() } })
      clients.push(client)
      const result = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(client, 'peer:identify', { filter: event => event.detail.peerId.equals(point.peerId) })
      await client.dial(address)
      return (await result).detail
    }

    const listenAddresses = (): string[] => point.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()).sort()

    it('answers each client\'s identify with the point\'s addresses, worked out once until it listens on another', async () => {
      // the time stands still, so only an event can make them stale
      sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] })
      // (point.getMultiaddrs() asks the address manager too)
      const [address] = point.getMultiaddrs()
      const listening = listenAddresses()
      const workedOut = sinon.spy((point as any).components.addressManager, 'getAddresses')

      for (let i = 0; i < 3; i++) {
        const found = await identified(address)
        expect(found.listenAddrs.map(String)).to.deep.equal(listening).and.to.have.lengthOf(1)
      }

      expect(workedOut.callCount).to.equal(1)

      const listened = pEvent(point, 'transport:listening')
      await (point as any).components.transportManager.listen([multiaddr('/ip4/127.0.0.1/tcp/0')])
      await listened

      const found = await identified(address)
      expect(found.listenAddrs.map(String).sort()).to.deep.equal(listenAddresses()).and.to.have.lengthOf(2)
    })
  })
})

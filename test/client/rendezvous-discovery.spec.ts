import tests from '@libp2p/interface-compliance-tests/peer-discovery'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { RendezvousDiscovery } from '../../src/client/rendezvous-discovery.ts'
import { InvalidOptionError, InvalidTTLError, rendezvous } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { findDiscovery, recordDiscoveries, startPoint } from '../fixtures/discovery.ts'
import { createNode, newPrivateKey, openRendezvousStream, signedPeerRecord } from '../fixtures/nodes.ts'
import type { Rendezvous, RendezvousInit } from '../../src/index.ts'
import type { Point } from '../fixtures/discovery.ts'
import type { Libp2p, PeerInfo } from '@libp2p/interface'

/**
 * Resolves once the rendezvous component of `node` has emitted `count`
 * distinct peers
 */
async function discovered (node: Libp2p, count: number, events: PeerInfo[]): Promise<void> {
  while (new Set(events.map(event => event.id.toString())).size < count) {
    await pEvent(findDiscovery(node), 'peer')
  }
}

describe('rendezvous discovery', () => {
  let point: Point
  let nodes: Libp2p[]

  async function newClient (init: Partial<RendezvousInit> = {}, placement: 'peerDiscovery' | 'services' = 'peerDiscovery'): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
    const discovery = rendezvous({
      rendezvousPoints: [point.address],
      namespaces: ['ns'],
      discoverInterval: 50,
      ...init
    })
    const node = placement === 'peerDiscovery'
      ? await createNode({ peerDiscovery: [discovery] })
      : await createNode({ services: { rendezvous: discovery } })
    nodes.push(node)
    return node as Libp2p<{ rendezvous: Rendezvous }>
  }

  beforeEach(async () => {
    nodes = []
    point = await startPoint()
  })

  afterEach(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
    await point.node.stop()
  })

  describe('compliance', () => {
    let client: Libp2p

    tests({
      async setup () {
        // a peer registered in the namespace, so there is a peer to emit
        await newClient({ namespaces: ['compliance'] })
        await point.store.until(() => point.store.puts.length > 0)

        client = await createNode()
        nodes.push(client)

        return new RendezvousDiscovery((client as any).components, {
          rendezvousPoints: [point.address],
          discoverNamespaces: ['compliance'],
          discoverInterval: 50
        })
      },
      async teardown () {}
    })
  })

  it('lets three peers find each other, each emitted exactly once over 10 poll rounds', async () => {
    const clients = [await newClient(), await newClient(), await newClient()]
    const events = clients.map(recordDiscoveries)

    await Promise.all(clients.map(async (client, i) => discovered(client, 2, events[i])))

    // 10 more poll rounds of every client
    const polls = point.store.discovers
    await point.store.until(() => point.store.discovers >= polls + 30)

    for (let i = 0; i < clients.length; i++) {
      const others = clients.filter((_, j) => j !== i).map(client => client.peerId.toString()).sort()
      expect(events[i].map(event => event.id.toString()).sort()).to.deep.equal(others)
    }
  })

  it('emits a peer once when it is found in several namespaces polled at once', async () => {
    const a = await newClient({ namespaces: ['one', 'two', 'three'], discoverNamespaces: [] })
    const b = await newClient({ namespaces: [], discoverNamespaces: ['one', 'two', 'three'] })
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)

    const polls = point.store.discovers
    await point.store.until(() => point.store.discovers >= polls + 15)
    expect(events.map(event => event.id.toString())).to.deep.equal([a.peerId.toString()])
  })

  it('announces its addresses in the peer record and puts certified addresses in the peer store', async () => {
    const [a, b] = [await newClient(), await newClient()]
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)

    expect(events[0].id.equals(a.peerId)).to.be.true()
    expect(events[0].multiaddrs.map(ma => ma.toString())).to.deep.equal(a.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()))

    const peer = await b.peerStore.get(a.peerId)
    expect(peer.peerRecordEnvelope).to.be.ok()
    expect(peer.addresses.every(address => address.isCertified)).to.be.true()
    // discovery does not dial
    expect(b.getConnections(a.peerId)).to.be.empty()
  })

  it('stays discoverable past its first TTL by registering again before it runs out', async () => {
    await point.node.stop()
    point = await startPoint({ minTtl: 1000 })
    const a = await newClient({ ttl: 1000 })
    const aId = a.peerId.toString()
    const registrations = (): number => point.store.puts.filter(put => put.peerId === aId).length

    // the third registration comes after the first one lapsed
    await point.store.until(() => registrations() >= 3)

    const b = await newClient({ namespaces: [], discoverNamespaces: ['ns'] })
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)
    expect(events[0].id.equals(a.peerId)).to.be.true()
  })

  it('registers again when its addresses change, and others see the new address', async () => {
    const [a, b] = [await newClient(), await newClient()]
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)

    const newAddress = `/memory/rendezvous-new-address-${Date.now()}`
    await (a as any).components.transportManager.listen([multiaddr(newAddress)])

    while (!events.some(event => event.multiaddrs.some(ma => ma.toString() === newAddress))) {
      await pEvent(findDiscovery(b), 'peer')
    }

    expect(events.filter(event => event.id.equals(a.peerId))).to.have.lengthOf(2)
  })

  it('registers everything again at a point that restarted empty', async () => {
    const clients = [await newClient({ maxReconnectDelay: 200 }), await newClient({ maxReconnectDelay: 200 })]
    await point.store.until(() => point.store.puts.length >= 2)

    const identity = { privateKey: point.privateKey, address: point.address }
    await point.node.stop()
    point = await startPoint({}, identity)

    await point.store.until(() => new Set(point.store.puts.map(put => put.peerId)).size === 2)
    expect(point.store.count()).to.equal(2)
    expect(point.store.puts.map(put => put.peerId).sort()).to.deep.equal(clients.map(client => client.peerId.toString()).sort())

    // the old cookies are refused by the new point, so polling starts over
    // and a newcomer is still found
    const events = recordDiscoveries(clients[0])
    const newcomer = await newClient()
    while (!events.some(event => event.id.equals(newcomer.peerId))) {
      await pEvent(findDiscovery(clients[0]), 'peer')
    }
  })

  it('emits a peer again when it returns after its registration lapsed', async () => {
    await point.node.stop()
    point = await startPoint({ minTtl: 1000 })
    const b = await newClient()
    const events = recordDiscoveries(b)
    const privateKey = await newPrivateKey()
    const a = await createNode({ privateKey })
    nodes.push(a)

    const registerA = async (): Promise<number> => {
      const stream = await openRendezvousStream(a, point.node)
      await stream.request({ type: Message.MessageType.REGISTER, register: { ns: 'ns', ttl: 1n, signedPeerRecord: await signedPeerRecord(privateKey, a.getMultiaddrs()) } })
      await stream.stream.close()
      return Date.now() + 1000
    }

    const lapsesAt = await registerA()
    await discovered(b, 1, events)

    // past the lapse, A registers again, with the same addresses
    await new Promise(resolve => setTimeout(resolve, lapsesAt - Date.now() + 50))
    await registerA()

    while (events.filter(event => event.id.equals(a.peerId)).length < 2) {
      await pEvent(findDiscovery(b), 'peer')
    }
  })

  it('keeps a REGISTER under 4096 bytes by leaving addresses out', async () => {
    const announce = Array.from({ length: 120 }, (_, i) => `/dns4/host-${i}.a-rather-long-domain-name.example.com/tcp/4001/ws`)
    const node = await createNode({
      addresses: { announce },
      peerDiscovery: [rendezvous({ rendezvousPoints: [point.address], namespaces: ['ns'] })]
    })
    nodes.push(node)

    await point.store.until(() => point.store.puts.some(put => put.peerId === node.peerId.toString()))
    const page = await point.store.discover({ namespace: 'ns', after: 0, limit: 10, now: Date.now() })
    const record = page.registrations[0].signedPeerRecord
    const envelope = await RecordEnvelope.openAndCertify(record, PeerRecord.DOMAIN)
    const addresses = PeerRecord.createFromProtobuf(envelope.payload).multiaddrs

    expect(addresses.length).to.be.greaterThan(10).and.lessThan(announce.length)
    expect(Message.encode({ type: Message.MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: record, ttl: 7200n } }).byteLength).to.be.at.most(4096)
  })

  it('retries a point that is down at start with growing delays, and uses it once it is up', async function () {
    this.timeout(20_000)
    const identity = { privateKey: point.privateKey, address: point.address }
    await point.node.stop()

    const client = await createNode({
      start: false,
      peerDiscovery: [rendezvous({ rendezvousPoints: [point.address], namespaces: ['ns'], maxReconnectDelay: 3000 })]
    })
    nodes.push(client)
    const connectionManager = (client as any).components.connectionManager
    const attempts: number[] = []
    const openConnection = connectionManager.openConnection.bind(connectionManager)
    let thirdAttempt: () => void = () => {}
    const thirdAttempted = new Promise<void>(resolve => { thirdAttempt = resolve })
    connectionManager.openConnection = async (...args: any[]) => {
      if (args[0]?.toString() === point.address.toString()) {
        attempts.push(Date.now())

        if (attempts.length === 3) {
          thirdAttempt()
        }
      }

      return openConnection(...args)
    }

    await client.start()
    await thirdAttempted

    point = await startPoint({}, identity)
    await point.store.until(() => point.store.puts.some(put => put.peerId === client.peerId.toString()))

    const gaps = attempts.slice(1).map((time, i) => time - attempts[i])
    // 1-2 s, then 2-3 s (capped): exponential backoff with jitter
    expect(gaps[0]).to.be.at.least(1000)
    expect(gaps[1]).to.be.greaterThan(gaps[0])
  })

  it('unregisters on stop, leaves no timers, and starts again', async () => {
    const [a, b] = [await newClient(), await newClient()]
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)

    await a.stop()
    expect(await namespaceMembers(point)).to.deep.equal([b.peerId.toString()])

    const discovery = findDiscovery(a)
    for (const p of (discovery as any).points) {
      expect(p.refreshTimers.size + p.pollTimers.size).to.equal(0)
    }
    expect((discovery as any).peers.size).to.equal(0)

    await a.start()
    await point.store.until(() => point.store.count() === 2)
  })

  it('works in services, exposing the API', async () => {
    const a = await newClient({ namespaces: [] }, 'services')
    const b = await newClient({ namespaces: ['other'] }, 'services')

    const granted = await a.services.rendezvous.register('other', { ttl: 3_600_000 })
    expect(granted).to.equal(3_600_000)

    const found = []
    for await (const peer of b.services.rendezvous.discover('other')) {
      found.push(peer)
    }

    expect(found).to.have.lengthOf(1)
    expect(found[0].id.equals(a.peerId)).to.be.true()
    expect(found[0].ns).to.equal('other')
    expect(found[0].ttl).to.be.within(3_590_000, 3_600_000)
    expect(found[0].multiaddrs).to.not.be.empty()

    await a.services.rendezvous.unregister('other')
    const after = []
    for await (const peer of b.services.rendezvous.discover('other')) {
      after.push(peer)
    }
    expect(after).to.be.empty()
  })

  it('discover pages with cookies and honours limit', async () => {
    const registrants = []
    for (let i = 0; i < 5; i++) {
      registrants.push(await newClient({ namespaces: ['many'], discoverNamespaces: [] }))
    }
    await point.store.until(() => point.store.count() >= 5)

    const client = await newClient({ namespaces: [], discoverLimit: 2 }, 'services')

    const all = []
    for await (const peer of client.services.rendezvous.discover('many')) {
      all.push(peer.id.toString())
    }
    expect(all.sort()).to.deep.equal(registrants.map(node => node.peerId.toString()).sort())

    const three = []
    for await (const peer of client.services.rendezvous.discover('many', 3)) {
      three.push(peer)
    }
    expect(three).to.have.lengthOf(3)
  })

  it('rejects register with the typed error of the status when no point accepts it', async () => {
    await point.node.stop()
    point = await startPoint({ minTtl: 7_200_000, defaultTtl: 7_200_000 })
    const client = await newClient({ namespaces: [] }, 'services')

    await expect(client.services.rendezvous.register('ns', { ttl: 60_000 })).to.eventually.be.rejected
      .with.property('name', InvalidTTLError.name)
    expect(point.store.count()).to.equal(0)
  })

  describe('options', () => {
    const peerId = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
    const invalid: Array<[Partial<RendezvousInit>, string]> = [
      [{ rendezvousPoints: [] }, 'rendezvousPoints'],
      [{ rendezvousPoints: ['/ip4/127.0.0.1/tcp/4001'] }, 'rendezvousPoints'],
      [{ rendezvousPoints: ['not a multiaddr'] }, 'rendezvousPoints'],
      [{ namespaces: ['x'.repeat(256)] }, 'namespaces'],
      [{ namespaces: [''] }, 'namespaces'],
      [{ discoverNamespaces: ['é'.repeat(128)] }, 'discoverNamespaces'],
      [{ ttl: 500 }, 'ttl'],
      [{ ttl: 72 * 3_600_000 + 1 }, 'ttl'],
      [{ discoverInterval: 0 }, 'discoverInterval'],
      [{ discoverLimit: 1001 }, 'discoverLimit'],
      [{ timeout: -5 }, 'timeout']
    ]

    for (const [init, option] of invalid) {
      it(`throws InvalidOptionError naming ${option} for ${JSON.stringify(Object.values(init)[0]).slice(0, 40)}`, () => {
        expect(() => rendezvous({ rendezvousPoints: [`/memory/x/p2p/${peerId}`], ...init }))
          .to.throw(InvalidOptionError).with.property('option', option)
      })
    }
  })
})

/**
 * The peers registered in `ns` at a point, asked with a raw DISCOVER
 */
async function namespaceMembers (point: Point): Promise<string[]> {
  const page = await point.store.discover({ namespace: 'ns', after: 0, limit: 1000, now: Date.now() })
  return page.registrations.map(registration => registration.peerId)
}

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { pEvent } from 'p-event'
import { rendezvous } from '../../src/index.ts'
import type { Rendezvous } from '../../src/index.ts'
import type { Libp2p, PeerInfo } from '@libp2p/interface'

describe('rendezvous in the browser', () => {
  let nodes: Array<Libp2p<{ rendezvous: Rendezvous }>>

  async function browserPeer (namespace: string): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
    const point = process.env.RENDEZVOUS_POINT

    if (point == null) {
      throw new Error('RENDEZVOUS_POINT is not set: .aegir.js starts the point')
    }

    const node = await createLibp2p({
      // browsers cannot listen: peers reach them through the point's relay
      addresses: { listen: ['/p2p-circuit'] },
      transports: [webSockets(), circuitRelayTransport()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // the point is on 127.0.0.1, which browsers are not let dial by default
      connectionGater: { denyDialMultiaddr: async () => false },
      services: {
        identify: identify(),
        rendezvous: rendezvous({ rendezvousPoints: [point], namespaces: [namespace], discoverInterval: 200 })
      }
    })
    nodes.push(node)
    return node
  }

  async function firstPeer (node: Libp2p<{ rendezvous: Rendezvous }>): Promise<PeerInfo> {
    const event = await pEvent<'peer', CustomEvent<PeerInfo>>(node.services.rendezvous, 'peer')
    return event.detail
  }

  beforeEach(() => {
    nodes = []
  })

  afterEach(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
  })

  it('lets two browser peers find each other through a point over WebSockets, by their relay addresses', async () => {
    const namespace = `browser-${Date.now()}-${Math.random()}`
    const a = await browserPeer(namespace)
    const b = await browserPeer(namespace)

    const [foundByA, foundByB] = await Promise.all([firstPeer(a), firstPeer(b)])

    expect(foundByA.id.equals(b.peerId)).to.be.true()
    expect(foundByB.id.equals(a.peerId)).to.be.true()
    expect(foundByB.multiaddrs.map(ma => ma.toString()).some(ma => ma.includes('/p2p-circuit'))).to.be.true()
  })

  it('registers and discovers through the API', async () => {
    const namespace = `browser-api-${Date.now()}-${Math.random()}`
    const a = await browserPeer(`${namespace}-auto`)
    const b = await browserPeer(`${namespace}-auto`)

    // a registers once the point's relay has given it an address
    while (!a.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))) {
      await pEvent(a, 'self:peer:update')
    }

    expect(await a.services.rendezvous.register(namespace, { ttl: 600_000 })).to.equal(600_000)

    const found = []
    for await (const peer of b.services.rendezvous.discover(namespace)) {
      found.push(peer)
    }

    expect(found).to.have.lengthOf(1)
    expect(found[0].id.equals(a.peerId)).to.be.true()
    expect(found[0].ns).to.equal(namespace)
  })
})

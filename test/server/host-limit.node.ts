/**
 * The per-host cap over real nodes: TCP on loopback, each test host a
 * loopback address of its own (127.0.0.2, 127.0.0.3...), so the point sees
 * the source addresses real hosts would have. Node.js only: the source
 * address of a dial is a Node.js socket option.
 */
import { circuitRelayServer, circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { sendRegister, sendUnregister } from '../../src/client/requests.ts'
import { rendezvousServer, UnavailableError } from '../../src/index.ts'
import { newPrivateKey, signedPeerRecord } from '../fixtures/nodes.ts'
import { requestContext } from '../fixtures/request-context.ts'
import { createTcpNode } from '../fixtures/tcp-nodes.ts'
import { WatchedStore } from '../fixtures/watched-store.ts'
import type { RendezvousServer, RendezvousServerInit } from '../../src/index.ts'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

interface Peer {
  node: Libp2p
  privateKey: PrivateKey
}

describe('per-host registration cap', function () {
  this.timeout(60_000)

  let nodes: Libp2p[]

  async function startPoint (init: RendezvousServerInit, options: Parameters<typeof createTcpNode>[0] = {}): Promise<Libp2p<{ rendezvousServer: RendezvousServer }>> {
    const point = await createTcpNode({
      ...options,
      services: { identify: identify(), rendezvousServer: rendezvousServer({ maxRequestsPerPeer: 100_000, ...init }), ...options.services }
    })
    nodes.push(point)
    return point as Libp2p<{ rendezvousServer: RendezvousServer }>
  }

  /**
   * A peer on loopback address `host`
   */
  async function newPeer (host: string, options: Parameters<typeof createTcpNode>[0] = {}): Promise<Peer> {
    const privateKey = await newPrivateKey()
    const node = await createTcpNode({ privateKey, ...options }, host)
    nodes.push(node)
    return { node, privateKey }
  }

  /**
   * Registers `peer` in `namespace` at `point`, over `address` when given
   */
  async function register (peer: Peer, point: Multiaddr, namespace: string): Promise<number> {
    const signed = await signedPeerRecord(peer.privateKey, peer.node.getMultiaddrs().length > 0 ? peer.node.getMultiaddrs() : ['/ip4/127.0.0.1/tcp/1'])
    return sendRegister(requestContext(peer.node), point, { namespace, signedPeerRecord: signed, ttl: 3_600_000 }, { signal: AbortSignal.timeout(10_000) })
  }

  beforeEach(() => {
    nodes = []
  })

  afterEach(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
  })

  it('counts every peer of one IPv4 address together, and serves another address', async () => {
    const point = await startPoint({ maxRegistrationsPerHost: 3 })
    const address = point.getMultiaddrs()[0]
    const [a, b, c] = await Promise.all([newPeer('127.0.0.2'), newPeer('127.0.0.2'), newPeer('127.0.0.2')])

    await register(a, address, 'one')
    await register(a, address, 'two')
    await register(b, address, 'one')

    const refused = await register(c, address, 'one').catch(err => err)
    expect(refused).to.be.an.instanceOf(UnavailableError)
    expect(refused.statusText).to.equal('the peers of this host (ip4/127.0.0.2/32) hold 3 registrations, the most one host may')

    const other = await newPeer('127.0.0.3')
    expect(await register(other, address, 'one')).to.equal(3_600_000)
  })

  it('lets a peer at the cap refresh, and frees a slot when one unregisters', async () => {
    const store = new WatchedStore()
    const point = await startPoint({ maxRegistrationsPerHost: 2, store })
    const address = point.getMultiaddrs()[0]
    const [a, b, c] = await Promise.all([newPeer('127.0.0.4'), newPeer('127.0.0.4'), newPeer('127.0.0.4')])

    await register(a, address, 'ns')
    await register(b, address, 'ns')
    expect(await register(a, address, 'ns')).to.equal(3_600_000)
    await expect(register(c, address, 'ns')).to.eventually.be.rejectedWith(UnavailableError)

    // UNREGISTER has no answer: the point has it once its store deleted it
    await sendUnregister(requestContext(b.node), address, 'ns', { signal: AbortSignal.timeout(10_000) })
    await store.until(() => store.deletes === 1)

    expect(await register(c, address, 'ns')).to.equal(3_600_000)
  })

  it('counts TCP and WebSockets from one address as one host', async () => {
    const point = await startPoint({ maxRegistrationsPerHost: 1 }, {
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws'] },
      transports: [tcp(), webSockets()]
    })
    const [overTcp, overWs] = point.getMultiaddrs()
    expect(overWs.toString()).to.include('/ws/')

    // WebSockets dials cannot choose their source address: both come from
    // 127.0.0.1, as the point does
    const a = await newPeer('127.0.0.1')
    const b = await newPeer('127.0.0.1', { addresses: { listen: [] }, transports: [webSockets()] })

    await register(a, overTcp, 'ns')
    await expect(register(b, overWs, 'ns')).to.eventually.be.rejectedWith(UnavailableError)
  })

  it('serves a NAT with many peers behind one address under the default caps', async () => {
    // libp2p's own default lets one address open 5 connections a second; the
    // command raises it for the same reason (see its --inbound-connection-threshold)
    const point = await startPoint({}, { connectionManager: { inboundConnectionThreshold: 1000, maxIncomingPendingConnections: 1000 } })
    const address = point.getMultiaddrs()[0]
    const peers = await Promise.all(Array.from({ length: 50 }, async () => newPeer('127.0.0.6')))

    const granted = await Promise.all(peers.map(async peer => register(peer, address, 'campus')))
    expect(granted).to.deep.equal(peers.map(() => 3_600_000))
  })

  it('counts peers behind a circuit relay as the relay\'s host, unless the relay is exempt', async () => {
    const relay = await createTcpNode({
      services: { identify: identify(), relay: circuitRelayServer({ reservations: { applyDefaultLimit: false } }) }
    }, '127.0.0.7')
    nodes.push(relay)
    const relayAddress = relay.getMultiaddrs()[0]

    /**
     * A point reachable only through the relay, and its relayed address
     */
    async function relayedPoint (init: RendezvousServerInit): Promise<Multiaddr> {
      const point = await startPoint(init, {
        addresses: { listen: [`${relayAddress}/p2p-circuit`] },
        transports: [tcp(), circuitRelayTransport()]
      })

      while (!point.getMultiaddrs().some(ma => ma.toString().includes('/p2p-circuit'))) {
        await pEvent(point, 'self:peer:update')
      }

      return multiaddr(`${relayAddress}/p2p-circuit/p2p/${point.peerId}`)
    }

    const capped = await relayedPoint({ maxRegistrationsPerHost: 1 })
    const exempt = await relayedPoint({ maxRegistrationsPerHost: 1, exemptHosts: ['/ip4/127.0.0.7'] })

    // two peers, both reaching the point through the relay
    const relayed = async (host: string): Promise<Peer> => newPeer(host, { transports: [tcp(), circuitRelayTransport()], services: { identify: identify() } })
    const [a, b] = await Promise.all([relayed('127.0.0.8'), relayed('127.0.0.9')])

    await register(a, capped, 'ns')
    await expect(register(b, capped, 'ns')).to.eventually.be.rejectedWith(UnavailableError)

    await register(a, exempt, 'ns')
    await register(b, exempt, 'ns')
  })
})

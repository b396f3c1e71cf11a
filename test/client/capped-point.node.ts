/**
 * The client against a point that cannot hold a connection for every peer:
 * 60 clients over TCP, each on its own loopback address, and a point capped
 * at 20 connections. Node.js only.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { rendezvous, rendezvousServer } from '../../src/index.ts'
import { findDiscovery } from '../fixtures/discovery.ts'
import { newPrivateKey } from '../fixtures/nodes.ts'
import { WatchedStore } from '../fixtures/watched-store.ts'
import type { Rendezvous, RendezvousServer } from '../../src/index.ts'
import type { Libp2p, PrivateKey } from '@libp2p/interface'

const CLIENTS = 60
const MAX_CONNECTIONS = 20
const DISCOVER_INTERVAL = 2_000
const DISCOVERED_WITHIN = 40_000

interface CappedPoint {
  node: Libp2p<{ rendezvousServer: RendezvousServer }>
  store: WatchedStore
}

async function startCappedPoint (privateKey: PrivateKey, port = 0): Promise<CappedPoint> {
  const store = new WatchedStore()
  const node = await createLibp2p({
    privateKey,
    addresses: { listen: [`/ip4/127.0.0.1/tcp/${port}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { maxConnections: MAX_CONNECTIONS },
    services: { rendezvousServer: rendezvousServer({ store }) }
  })

  return { node, store }
}

/**
 * A client listening and dialling from 127.0.0.`host`, so the point's
 * limit of new connections per host and second applies to it alone
 */
async function startClient (host: number, point: string): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
  const address = `127.0.0.${host}`

  return createLibp2p({
    addresses: { listen: [`/ip4/${address}/tcp/0`] },
    transports: [tcp({ dialOpts: { localAddress: address } as any })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: {
      rendezvous: rendezvous({ rendezvousPoints: [point], namespaces: ['capped'], discoverInterval: DISCOVER_INTERVAL })
    }
  })
}

describe(`rendezvous clients at a point capped at ${MAX_CONNECTIONS} connections (TCP)`, function () {
  this.timeout(DISCOVERED_WITHIN + 60_000)

  let privateKey: PrivateKey
  let point: CappedPoint
  let address: string
  let clients: Array<Libp2p<{ rendezvous: Rendezvous }>>
  let found: Array<Set<string>>

  before(async () => {
    privateKey = await newPrivateKey()
    point = await startCappedPoint(privateKey)
    address = point.node.getMultiaddrs()[0].toString()
    clients = []
    found = []
  })

  after(async () => {
    await Promise.all(clients.map(async client => client.stop()))
    await point.node.stop()
  })

  it(`lets ${CLIENTS} clients discover each other within ${DISCOVERED_WITHIN / 1000} s, with at most 2 REGISTERs each`, async () => {
    const started = Date.now()
    let complete = 0
    const everyoneFound = Promise.withResolvers<void>()
    const foundAll = (peers: Set<string>): void => {
      if (peers.size === CLIENTS - 1 && ++complete === CLIENTS) {
        everyoneFound.resolve()
      }
    }

    for (let i = 0; i < CLIENTS; i++) {
      const client = await startClient(i + 2, address)
      const peers = new Set<string>()
      clients.push(client)
      found.push(peers)

      findDiscovery(client).addEventListener('peer', (event) => {
        peers.add(event.detail.id.toString())
        foundAll(peers)
      })
    }

    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      everyoneFound.promise,
      new Promise(resolve => { timer = setTimeout(resolve, DISCOVERED_WITHIN - (Date.now() - started)) })
    ])
    clearTimeout(timer)
    const elapsed = Date.now() - started

    const incomplete = found.filter(peers => peers.size < CLIENTS - 1).length
    expect(incomplete, `clients that had not found all others after ${elapsed} ms`).to.equal(0)

    const registers = clients.map(client => point.store.registered(client))
    expect(Math.max(...registers), 'REGISTERs of one client').to.be.at.most(2)
    expect(Math.min(...registers)).to.be.at.least(1)
    expect(point.node.getConnections().length).to.be.at.most(MAX_CONNECTIONS)

    // eslint-disable-next-line no-console
    console.info(`      all found in ${elapsed} ms, ${registers.reduce((a, b) => a + b, 0)} REGISTERs`)
  })

  it('has every client registered again at its next round of polls when the point restarts empty', async () => {
    const port = Number(point.node.getMultiaddrs()[0].getComponents().find(component => component.name === 'tcp')?.value)
    await point.node.stop()
    point = await startCappedPoint(privateKey, port)
    const restartedAt = Date.now()

    const registered = (): number => new Set(point.store.puts.map(put => put.peerId)).size
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      point.store.until(() => registered() === CLIENTS),
      new Promise(resolve => { timer = setTimeout(resolve, 4 * DISCOVER_INTERVAL) })
    ])
    clearTimeout(timer)

    // each client finds the point empty at its next round of polls, within
    // the interval; on a loaded machine, connections refused while the point
    // has 20 make some wait out a backoff or two
    const delays = point.store.puts.map(put => put.at - restartedAt).sort((a, b) => a - b)
    const withinInterval = delays.filter(delay => delay <= DISCOVER_INTERVAL).length
    expect(registered(), `clients registered again within ${4 * DISCOVER_INTERVAL} ms`).to.equal(CLIENTS)
    expect(point.store.puts).to.have.lengthOf(CLIENTS)

    // eslint-disable-next-line no-console
    console.info(`      ${withinInterval} of ${CLIENTS} registered again within one interval, all in ${delays.at(-1)} ms`)
  })
})

/**
 * What each interop test starts: our js-libp2p v3 nodes over TCP on
 * 127.0.0.1 and the other implementation's driver processes, all stopped
 * after each test
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { Children } from 'libp2p-rendezvous-testing/node'
import { pEvent } from 'p-event'
import { sendDiscover } from '../../src/client/requests.ts'
import { rendezvous, rendezvousServer } from '../../src/index.ts'
import { openSignedPeerRecord } from '../../src/signed-peer-record.ts'
import { requestContext } from '../fixtures/request-context.ts'
import { createTcpNode } from '../fixtures/tcp-nodes.ts'
import { POLL_DEADLINE, startDriver, stopDriver } from './driver.ts'
import { requirePeer } from './peers.ts'
import type { Driver } from './driver.ts'
import type { PeerName, PeerProgram } from './peers.ts'
import type { Rendezvous, RendezvousInit, RendezvousServer, RendezvousServerInit } from '../../src/index.ts'
import type { IdentifyResult, Libp2p, Libp2pEvents, PeerInfo, PrivateKey, TypedEventTarget } from '@libp2p/interface'

/**
 * The built `rendezvous-server` command; `npm run test:interop` builds first
 */
const COMMAND = new URL('../../packages/server/dist/src/bin.js', import.meta.url).pathname

export type OurClient = Libp2p<{ rendezvous: Rendezvous }>
export type OurPoint = Libp2p<{ rendezvousServer: RendezvousServer }>

/**
 * Wires the enclosing suite to an implementation: skips the suite when its
 * peer is not built (fails it with RENDEZVOUS_INTEROP=required), and stops
 * what each test started after it
 */
export function interopSuite (name: PeerName): Interop {
  const interop = new Interop()

  before(function () {
    interop.program = requirePeer(this, name)
  })

  afterEach(async () => {
    await interop.stop()
  })

  return interop
}

export class Interop {
  /**
   * The suite's other implementation
   */
  program?: PeerProgram
  private drivers: Driver[] = []
  private nodes: Libp2p[] = []
  private readonly children = new Children()

  /**
   * A driver process of the suite's implementation, with the role
   * arguments `args`
   */
  async driver (args: string[]): Promise<Driver> {
    if (this.program == null) {
      throw new Error('no interop peer: the suite\'s before hook has not run')
    }

    const driver = await startDriver(this.program, args)
    this.drivers.push(driver)
    return driver
  }

  /**
   * Our rendezvous point. identify tells it rust-libp2p clients, and lets
   * canvas clients learn that it speaks /rendezvous/1.0.0.
   */
  async ourPoint (init: RendezvousServerInit = {}): Promise<OurPoint> {
    const node = await createTcpNode({
      services: { identify: identify(), rendezvousServer: rendezvousServer(init) }
    })
    this.nodes.push(node)
    return node
  }

  /**
   * Our `rendezvous-server` command (built, with `--memory`), as operators
   * run it: its own libp2p node, which identifies a client only when it must
   * know its agent version. Resolves with its TCP address.
   */
  async ourCommand (): Promise<string> {
    const command = this.children.spawn(process.execPath, [COMMAND, '--memory', '--listen', '/ip4/127.0.0.1/tcp/0'])
    return command.line()
  }

  /**
   * Our client: the rendezvous component in `services` (API) or in
   * `peerDiscovery`, polling every 100 ms
   */
  async ourClient (init: RendezvousInit, placement: 'services' | 'peerDiscovery' = 'services'): Promise<OurClient> {
    const discovery = rendezvous({ discoverInterval: 100, ...init })
    const node = placement === 'services'
      ? await createTcpNode({ services: { identify: identify(), rendezvous: discovery } })
      : await createTcpNode({ peerDiscovery: [discovery], services: { identify: identify() } })
    this.nodes.push(node)
    return node as Libp2p<any>
  }

  /**
   * A node of ours without rendezvous components, and its key, to send
   * requests our components would refuse to send
   */
  async ourNode (): Promise<{ node: Libp2p, privateKey: PrivateKey }> {
    const privateKey = await generateKeyPair('Ed25519')
    const node = await createTcpNode({ privateKey })
    this.nodes.push(node)
    return { node, privateKey }
  }

  /**
   * Stops what was started, our nodes first, so our clients unregister at
   * points still running
   */
  async stop (): Promise<void> {
    const nodes = this.nodes.reverse()
    const drivers = this.drivers
    this.nodes = []
    this.drivers = []

    for (const node of nodes) {
      await node.stop()
    }

    await Promise.all([...drivers.map(stopDriver), this.children.stopAll()])
  }
}

/**
 * Pages through a namespace at a point with our client's DISCOVER, `limit`
 * registrations a request, each with the cookie of the one before, until a
 * page comes back empty; returns the peer ids of each page. Unlike
 * `discover()`, which yields each peer once, it shows what the point served.
 */
export async function pageWithOurClient (node: Libp2p, point: string, ns: string, limit: number): Promise<string[][]> {
  const pages: string[][] = []
  let cookie: Uint8Array<ArrayBuffer> | undefined

  for (let request = 0; request < 100; request++) {
    const page = await sendDiscover(requestContext(node), multiaddr(point), { namespace: ns, limit, cookie }, { signal: AbortSignal.timeout(10_000) })

    if (page.registrations.length === 0) {
      return pages
    }

    const ids = []

    for (const registration of page.registrations) {
      ids.push((await openSignedPeerRecord(registration.signedPeerRecord)).record.peerId.toString())
    }

    pages.push(ids)
    cookie = page.cookie ?? cookie
  }

  throw new Error(`still registrations in ${ns} after 100 pages`)
}

/**
 * The next `peer` event of a discovery component for `peerId`, bounded in
 * time
 */
export async function peerEvent (discovery: Rendezvous, peerId: string, otherwise: string): Promise<CustomEvent<PeerInfo>> {
  try {
    return await pEvent(discovery, 'peer', {
      filter: (event: CustomEvent<PeerInfo>) => event.detail.id.toString() === peerId,
      timeout: POLL_DEADLINE
    })
  } catch (err: any) {
    throw new Error(`${otherwise}: no peer event for ${peerId} in ${POLL_DEADLINE} ms - ${err.message}`)
  }
}

/**
 * Records which peers a node's identify has identified, from now on, so a
 * test can wait until our point knows a client's agent version
 */
export function watchIdentify (node: Libp2p): (peerId: string) => Promise<void> {
  const events = node as unknown as TypedEventTarget<Libp2pEvents>
  const identified = new Set<string>()
  events.addEventListener('peer:identify', (event: CustomEvent<IdentifyResult>) => {
    identified.add(event.detail.peerId.toString())
  })

  return async (peerId) => {
    if (identified.has(peerId)) {
      return
    }

    await pEvent<'peer:identify', CustomEvent<IdentifyResult>>(events, 'peer:identify', {
      filter: event => event.detail.peerId.toString() === peerId,
      timeout: POLL_DEADLINE
    })
  }
}

/**
 * Our addresses as a peer record carries them: without /p2p
 */
export function recordAddresses (node: Libp2p): string[] {
  return node.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()).sort()
}

/**
 * A driver's addresses as a peer record carries them: without /p2p
 */
export function driverAddresses (driver: Driver): string[] {
  return driver.ready.multiaddrs.map(ma => ma.replace(/\/p2p\/[^/]+$/, '')).sort()
}

/**
 * What our client's `discover()` yields in a namespace: peer id to addresses
 */
export async function discoverAll (node: OurClient, namespace: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>()

  for await (const peer of node.services.rendezvous.discover(namespace)) {
    found.set(peer.id.toString(), peer.multiaddrs.map(ma => ma.toString()).sort())
  }

  return found
}

/**
 * The peer ids of registrations
 */
export function peerIds (registrations: Array<{ peerId: string }>): string[] {
  return registrations.map(registration => registration.peerId)
}

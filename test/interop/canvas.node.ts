/**
 * Interop with another implementation: `@canvas-js/libp2p-rendezvous` 0.5.2, on
 * libp2p 2.x, in a Node.js process of its own (interop/canvas/peer.mjs, set
 * up by scripts/setup-interop.sh, which `npm test` runs first). Each test
 * starts our js-libp2p v3 nodes over TCP on 127.0.0.1 and canvas driver
 * processes, which speak /rendezvous/1.0.0 there.
 */
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { identify } from '@libp2p/identify'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { rendezvous, rendezvousServer } from '../../src/index.ts'
import { findDiscovery } from '../fixtures/discovery.ts'
import { createTcpNode } from '../fixtures/tcp-nodes.ts'
import type { Rendezvous, RendezvousInit, RendezvousServer } from '../../src/index.ts'
import type { Libp2p, PeerInfo } from '@libp2p/interface'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

const DRIVER_DIR = new URL('../../interop/canvas/', import.meta.url).pathname
const DRIVER = `${DRIVER_DIR}peer.mjs`

/**
 * How long a condition polled through a driver may take to hold
 */
const POLL_DEADLINE = 20_000
const POLL_INTERVAL = 50

interface DriverPeer {
  peerId: string
  multiaddrs: string[]
  ttl?: number
}

interface Ready {
  ready: true
  role: 'point' | 'client'
  peerId: string
  multiaddrs: string[]
}

/**
 * A canvas peer process, answering JSON-line commands
 */
interface Driver {
  child: ChildProcessWithoutNullStreams
  ready: Ready
  stderr: string[]
  exited: Promise<number | null>
  command<T = unknown>(command: Record<string, unknown>): Promise<T>
}

describe('interop with @canvas-js/libp2p-rendezvous 0.5.2', function () {
  this.timeout(60_000)

  let drivers: Driver[]
  let nodes: Libp2p[]

  /**
   * Starts a driver and resolves once it printed its ready line
   */
  async function startDriver (args: string[]): Promise<Driver> {
    const child = spawn(process.execPath, [DRIVER, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
    const stderr: string[] = []
    const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
    createInterface({ input: child.stderr }).on('line', line => stderr.push(line))

    const pending = new Map<number, { resolve(value: any): void, reject(err: Error): void }>()
    let nextId = 0
    let onReady: ((ready: Ready) => void) | undefined

    createInterface({ input: child.stdout }).on('line', line => {
      const message = JSON.parse(line)

      if (message.ready === true) {
        onReady?.(message)
        return
      }

      const waiter = pending.get(message.id)
      pending.delete(message.id)

      if (message.error != null) {
        waiter?.reject(new Error(`canvas ${args[0]}: ${message.error}`))
      } else {
        waiter?.resolve(message.result)
      }
    })

    const died = exited.then(code => new Error(`canvas ${args[0]} exited with ${code}: ${stderr.join('\n')}`))
    void died.then(err => {
      pending.forEach(waiter => { waiter.reject(err) })
      pending.clear()
    })

    const driver: Driver = {
      child,
      stderr,
      exited,
      ready: undefined as any,
      async command (command) {
        const id = ++nextId
        const answer = new Promise<any>((resolve, reject) => pending.set(id, { resolve, reject }))
        child.stdin.write(JSON.stringify({ ...command, id }) + '\n')
        return answer
      }
    }
    drivers.push(driver)

    driver.ready = await Promise.race([
      new Promise<Ready>(resolve => { onReady = resolve }),
      died.then(err => { throw err })
    ])

    return driver
  }

  async function startCanvasPoint (): Promise<Driver> {
    return startDriver(['point'])
  }

  async function startCanvasClient (point: string, namespace: string): Promise<Driver> {
    return startDriver(['client', point, namespace])
  }

  /**
   * Our client: a js-libp2p v3 node over TCP with the rendezvous component in
   * `services` (API) or in `peerDiscovery`
   */
  async function startClient (init: RendezvousInit, placement: 'services' | 'peerDiscovery' = 'services'): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
    const discovery = rendezvous({ discoverInterval: 100, ...init })
    const node = placement === 'services'
      ? await createTcpNode({ services: { identify: identify(), rendezvous: discovery } })
      : await createTcpNode({ peerDiscovery: [discovery], services: { identify: identify() } })
    nodes.push(node)
    return node as Libp2p<any>
  }

  /**
   * Our rendezvous point in a js-libp2p v3 node over TCP. identify lets the
   * canvas client learn that it speaks /rendezvous/1.0.0: canvas registers
   * from a topology, which fires only for peers known to support it.
   */
  async function startPoint (): Promise<Libp2p<{ rendezvousServer: RendezvousServer }>> {
    const node = await createTcpNode({
      services: { identify: identify(), rendezvousServer: rendezvousServer() }
    })
    nodes.push(node)
    return node
  }

  /**
   * Asks a driver until `check` holds for its answer, a bounded number of
   * times: the drivers have no events to wait for
   */
  async function pollDriver <T> (driver: Driver, command: Record<string, unknown>, check: (result: T) => boolean, what: string): Promise<T> {
    const deadline = Date.now() + POLL_DEADLINE
    let result: T

    for (let attempt = 1; ; attempt++) {
      result = await driver.command<T>(command)

      if (check(result)) {
        return result
      }

      if (Date.now() > deadline) {
        throw new Error(`${what}: not true after ${attempt} polls in ${POLL_DEADLINE} ms, last answer ${JSON.stringify(result)}`)
      }

      await new Promise(resolve => setTimeout(resolve, POLL_INTERVAL))
    }
  }

  async function discoverAll (node: Libp2p<{ rendezvous: Rendezvous }>, namespace: string): Promise<Map<string, string[]>> {
    const found = new Map<string, string[]>()

    for await (const peer of node.services.rendezvous.discover(namespace)) {
      found.set(peer.id.toString(), peer.multiaddrs.map(ma => ma.toString()))
    }

    return found
  }

  function peerIds (peers: DriverPeer[]): string[] {
    return peers.map(peer => peer.peerId)
  }

  /**
   * Our addresses as a peer record carries them: without /p2p
   */
  function recordAddresses (node: Libp2p): string[] {
    return node.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()).sort()
  }

  /**
   * The addresses of a canvas peer as our client reports them. Unlike
   * js-libp2p, canvas signs its address manager's addresses as they are, with
   * /p2p/<its id> at the end; our client leaves that suffix out, as libp2p
   * stores addresses without it
   */
  function canvasRecordAddresses (driver: Driver): string[] {
    return driver.ready.multiaddrs.map(ma => ma.replace(/\/p2p\/[^/]+$/, '')).sort()
  }

  beforeEach(function () {
    drivers = []
    nodes = []

    if (!existsSync(`${DRIVER_DIR}node_modules/.interop-setup`)) {
      throw new Error('interop/canvas is not installed: run `bash scripts/setup-interop.sh` (npm test does)')
    }
  })

  afterEach(async () => {
    // our clients first, so that they unregister at a point still running
    for (const node of nodes.reverse()) {
      await node.stop()
    }

    drivers.forEach(driver => driver.child.kill('SIGKILL'))
    await Promise.all(drivers.map(async driver => driver.exited))
  })

  it('our client registers, discovers and unregisters at a canvas point', async () => {
    const point = await startCanvasPoint()
    const pointAddress = point.ready.multiaddrs[0]
    const canvasClient = await startCanvasClient(pointAddress, 'interop-a')
    const ours = await startClient({ rendezvousPoints: [pointAddress] })
    const ourId = ours.peerId.toString()

    // canvas grants at most 2 h, what we ask for by default
    expect(await ours.services.rendezvous.register('interop-a')).to.equal(7_200_000)

    // the canvas point holds our registration, with our signed addresses
    const held = await pollDriver<DriverPeer[]>(point, { cmd: 'registrations', ns: 'interop-a' },
      peers => peerIds(peers).includes(ourId) && peerIds(peers).includes(canvasClient.ready.peerId),
      'the canvas point holds both registrations')
    const ourRegistration = held.find(peer => peer.peerId === ourId)
    expect(ourRegistration?.multiaddrs.sort()).to.deep.equal(recordAddresses(ours))
    expect(ourRegistration?.ttl).to.be.within(7190, 7200)

    // the canvas client finds us there
    const seenByCanvas = await canvasClient.command<DriverPeer[]>({ cmd: 'discover', ns: 'interop-a' })
    expect(peerIds(seenByCanvas)).to.include(ourId)

    // and we find the canvas client, with the addresses it signed
    const seenByUs = await discoverAll(ours, 'interop-a')
    expect([...seenByUs.keys()]).to.deep.equal([canvasClient.ready.peerId])
    expect(seenByUs.get(canvasClient.ready.peerId)?.sort()).to.deep.equal(canvasRecordAddresses(canvasClient))

    // an UNREGISTER has no response: the canvas point processes it after our
    // stream is closed, so its store is polled until the registration is gone
    await ours.services.rendezvous.unregister('interop-a')
    await pollDriver<DriverPeer[]>(point, { cmd: 'registrations', ns: 'interop-a' },
      peers => !peerIds(peers).includes(ourId),
      'the canvas point dropped our registration')

    const afterwards = await canvasClient.command<DriverPeer[]>({ cmd: 'discover', ns: 'interop-a' })
    expect(peerIds(afterwards)).to.not.include(ourId)
    expect(peerIds(await point.command<DriverPeer[]>({ cmd: 'registrations', ns: 'interop-a' }))).to.deep.equal([canvasClient.ready.peerId])
  })

  it('on our point, a canvas client and our client find each other', async () => {
    const point = await startPoint()
    const pointAddress = point.getMultiaddrs()[0].toString()
    const ours = await startClient({ rendezvousPoints: [pointAddress], namespaces: ['interop-b'] })
    const ourId = ours.peerId.toString()
    expect(await ours.services.rendezvous.register('interop-b')).to.equal(7_200_000)

    const canvasClient = await startCanvasClient(pointAddress, 'interop-b')
    const canvasId = canvasClient.ready.peerId

    // the canvas client registers itself as soon as it is connected and has
    // identified our point; our component polls every 100 ms and emits it.
    // canvas encodes its messages as proto3, so its REGISTER carries no `type`
    // field at all (REGISTER is 0, which proto3 leaves out): our point must
    // read the absent type as REGISTER, the default of the spec's proto2
    // field, as proto2 readers (go, rust) do
    await peerEvent(ours.services.rendezvous, canvasId, 'our point did not take the canvas client\'s REGISTER')

    const seenByUs = await discoverAll(ours, 'interop-b')
    expect([...seenByUs.keys()]).to.deep.equal([canvasId])
    expect(seenByUs.get(canvasId)?.sort()).to.deep.equal(canvasRecordAddresses(canvasClient).sort())

    const seenByCanvas = await canvasClient.command<DriverPeer[]>({ cmd: 'discover', ns: 'interop-b' })
    expect(peerIds(seenByCanvas)).to.deep.equal([ourId])
    expect(seenByCanvas[0].multiaddrs.sort()).to.deep.equal(recordAddresses(ours))

    // an explicit REGISTER from canvas, with the TTL it asks for
    expect(await canvasClient.command({ cmd: 'register', ns: 'interop-b2', ttl: 120 })).to.deep.equal({ ttl: 120 })
    const inB2 = await discoverAll(ours, 'interop-b2')
    expect([...inB2.keys()]).to.deep.equal([canvasId])

    // canvas's UNREGISTER reaches our point. Stepping around a canvas bug:
    // its client's unregister() only queues the frame and closes the stream
    // right after, which loses the frame before it is written (every time
    // here, at our point and at a canvas point alike). `flush` has the driver
    // follow it with a DISCOVER on the same stream and wait for the answer,
    // so the stream stays open until our point has read the UNREGISTER.
    await canvasClient.command({ cmd: 'unregister', ns: 'interop-b2', flush: true })
    expect(await discoverAll(ours, 'interop-b2')).to.have.property('size', 0)

    // its other registration stays
    expect([...(await discoverAll(ours, 'interop-b')).keys()]).to.deep.equal([canvasId])
  })

  it('our discovery component emits a peer event for a canvas peer', async () => {
    const point = await startCanvasPoint()
    const pointAddress = point.ready.multiaddrs[0]
    const canvasClient = await startCanvasClient(pointAddress, 'interop-c')
    const canvasId = canvasClient.ready.peerId
    const ours = await startClient({ rendezvousPoints: [pointAddress], namespaces: ['interop-c'] }, 'peerDiscovery')
    const discovery = findDiscovery(ours)

    // our component polls every 100 ms with the cookie canvas gave it.
    // canvas's cookie is the id of the oldest registration of its
    // newest-first page, and it serves what is newer than that: each poll
    // gets the rest of that page again, and registrations older than a full
    // first page are never served. Only one peer is registered here; our
    // component emits a peer only when it is new or its record changed, so
    // the repeats go unnoticed
    const event = await peerEvent(discovery, canvasId, 'the canvas client was not found at the canvas point')
    expect(event.detail.multiaddrs.map(ma => ma.toString()).sort()).to.deep.equal(canvasRecordAddresses(canvasClient))

    // the record went into the peer store: its addresses are certified, and
    // each is there once, although canvas signed them with /p2p/<id>
    const peer = await ours.peerStore.get(event.detail.id)
    expect(peer.addresses.map(address => address.multiaddr.toString()).sort()).to.deep.equal(canvasRecordAddresses(canvasClient))
    expect(peer.addresses.every(address => address.isCertified)).to.be.true()

    // and the canvas client finds us there, once we are registered
    await pollDriver<DriverPeer[]>(point, { cmd: 'registrations', ns: 'interop-c' },
      peers => peerIds(peers).includes(ours.peerId.toString()),
      'the canvas point holds our registration')
    const seenByCanvas = await canvasClient.command<DriverPeer[]>({ cmd: 'discover', ns: 'interop-c' })
    expect(peerIds(seenByCanvas)).to.include(ours.peerId.toString())
  })
})

/**
 * The component's next `peer` event for `peerId`, bounded in time
 */
async function peerEvent (discovery: Rendezvous, peerId: string, otherwise: string): Promise<CustomEvent<PeerInfo>> {
  try {
    return await pEvent(discovery, 'peer', {
      filter: (event: CustomEvent<PeerInfo>) => event.detail.id.toString() === peerId,
      timeout: POLL_DEADLINE
    })
  } catch (err: any) {
    throw new Error(`${otherwise}: no peer event for ${peerId} in ${POLL_DEADLINE} ms - ${err.message}`)
  }
}

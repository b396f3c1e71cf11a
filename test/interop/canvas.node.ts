/**
 * Interop with another implementation: `@canvas-js/libp2p-rendezvous` 0.5.2, on
 * libp2p 2.x, in a Node.js process of its own (interop/canvas/peer.mjs, set
 * up by scripts/setup-interop.sh, which `npm test` runs first). Each test
 * starts our js-libp2p v3 nodes over TCP on 127.0.0.1 and canvas driver
 * processes, which speak /rendezvous/1.0.0 there.
 */
import { expect } from 'aegir/chai'
import { findDiscovery } from '../fixtures/discovery.ts'
import { pollDriver } from './driver.ts'
import { discoverAll, driverAddresses, interopSuite, peerEvent, peerIds, recordAddresses } from './harness.ts'
import type { Driver, DriverRegistration } from './driver.ts'

describe('interop with @canvas-js/libp2p-rendezvous 0.5.2 (canvas)', function () {
  this.timeout(60_000)

  const interop = interopSuite('canvas')

  async function startCanvasPoint (): Promise<Driver> {
    return interop.driver(['point'])
  }

  async function startCanvasClient (point: string, namespace: string): Promise<Driver> {
    return interop.driver(['client', point, namespace])
  }

  it('our client registers, discovers and unregisters at a canvas point', async () => {
    const point = await startCanvasPoint()
    const pointAddress = point.ready.multiaddrs[0]
    const canvasClient = await startCanvasClient(pointAddress, 'interop-a')
    const ours = await interop.ourClient({ rendezvousPoints: [pointAddress] })
    const ourId = ours.peerId.toString()

    // canvas grants at most 2 h, what we ask for by default
    expect(await ours.services.rendezvous.register('interop-a')).to.equal(7_200_000)

    // the canvas point holds our registration, with our signed addresses
    const held = await pollDriver<DriverRegistration[]>(point, { cmd: 'registrations', ns: 'interop-a' },
      peers => peerIds(peers).includes(ourId) && peerIds(peers).includes(canvasClient.ready.peerId),
      'the canvas point holds both registrations')
    const ourRegistration = held.find(peer => peer.peerId === ourId)
    expect(ourRegistration?.multiaddrs.sort()).to.deep.equal(recordAddresses(ours))
    expect(ourRegistration?.ttl).to.be.within(7190, 7200)

    // the canvas client finds us there
    const seenByCanvas = await canvasClient.command<DriverRegistration[]>({ cmd: 'discover', ns: 'interop-a' })
    expect(peerIds(seenByCanvas)).to.include(ourId)

    // and we find the canvas client, with the addresses it signed
    const seenByUs = await discoverAll(ours, 'interop-a')
    expect([...seenByUs.keys()]).to.deep.equal([canvasClient.ready.peerId])
    expect(seenByUs.get(canvasClient.ready.peerId)?.sort()).to.deep.equal(driverAddresses(canvasClient))

    // an UNREGISTER has no response: the canvas point processes it after our
    // stream is closed, so its store is polled until the registration is gone
    await ours.services.rendezvous.unregister('interop-a')
    await pollDriver<DriverRegistration[]>(point, { cmd: 'registrations', ns: 'interop-a' },
      peers => !peerIds(peers).includes(ourId),
      'the canvas point dropped our registration')

    const afterwards = await canvasClient.command<DriverRegistration[]>({ cmd: 'discover', ns: 'interop-a' })
    expect(peerIds(afterwards)).to.not.include(ourId)
    expect(peerIds(await point.command<DriverRegistration[]>({ cmd: 'registrations', ns: 'interop-a' }))).to.deep.equal([canvasClient.ready.peerId])
  })

  it('on our point, a canvas client and our client find each other', async () => {
    const point = await interop.ourPoint()
    const pointAddress = point.getMultiaddrs()[0].toString()
    const ours = await interop.ourClient({ rendezvousPoints: [pointAddress], namespaces: ['interop-b'] })
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
    expect(seenByUs.get(canvasId)?.sort()).to.deep.equal(driverAddresses(canvasClient).sort())

    const seenByCanvas = await canvasClient.command<DriverRegistration[]>({ cmd: 'discover', ns: 'interop-b' })
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
    const ours = await interop.ourClient({ rendezvousPoints: [pointAddress], namespaces: ['interop-c'] }, 'peerDiscovery')
    const discovery = findDiscovery(ours)

    // our component polls every 100 ms with the cookie canvas gave it.
    // canvas's cookie is the id of the oldest registration of its
    // newest-first page, and it serves what is newer than that: each poll
    // gets the rest of that page again, and registrations older than a full
    // first page are never served. Only one peer is registered here; our
    // component emits a peer only when it is new or its record changed, so
    // the repeats go unnoticed
    const event = await peerEvent(discovery, canvasId, 'the canvas client was not found at the canvas point')
    expect(event.detail.multiaddrs.map(ma => ma.toString()).sort()).to.deep.equal(driverAddresses(canvasClient))

    // the record went into the peer store: its addresses are certified, and
    // each is there once, although canvas signed them with /p2p/<id>
    const peer = await ours.peerStore.get(event.detail.id)
    expect(peer.addresses.map(address => address.multiaddr.toString()).sort()).to.deep.equal(driverAddresses(canvasClient))
    expect(peer.addresses.every(address => address.isCertified)).to.be.true()

    // and the canvas client finds us there, once we are registered
    await pollDriver<DriverRegistration[]>(point, { cmd: 'registrations', ns: 'interop-c' },
      peers => peerIds(peers).includes(ours.peerId.toString()),
      'the canvas point holds our registration')
    const seenByCanvas = await canvasClient.command<DriverRegistration[]>({ cmd: 'discover', ns: 'interop-c' })
    expect(peerIds(seenByCanvas)).to.include(ours.peerId.toString())
  })
})

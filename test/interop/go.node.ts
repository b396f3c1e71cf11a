/**
 * Interop with Go: github.com/waku-org/go-libp2p-rendezvous (the module
 * go-waku uses) on go-libp2p 0.39, built from the Go module proxy
 * (interop/go, built by scripts/build-interop-peers.sh) and run as processes
 * of their own. Our nodes run js-libp2p v3 over TCP, noise and yamux on
 * 127.0.0.1.
 *
 * Go's point serves many requests a stream and resets it afterwards, leaves
 * `ns` empty in the registrations of a DISCOVER of one namespace, and omits
 * the cookie when nothing matched and none was sent; its client writes a
 * request without closing its end, reads one answer and resets the stream.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { sendDiscover, sendRegister } from '../../src/client/requests.ts'
import { HOUR } from '../../src/constants.ts'
import { sealPeerRecord } from '../../src/signed-peer-record.ts'
import { findDiscovery } from '../fixtures/discovery.ts'
import { requestContext } from '../fixtures/request-context.ts'
import { expectRefusal, expectRegistered, pageWithDriver, pollDriver } from './driver.ts'
import { discoverAll, driverAddresses, interopSuite, pageWithOurClient, peerEvent, peerIds, recordAddresses } from './harness.ts'
import type { Driver, DriverPage, DriverRegistration } from './driver.ts'

describe('interop with waku-org/go-libp2p-rendezvous a67d1cc, go-libp2p 0.39 (go)', function () {
  this.timeout(60_000)

  const interop = interopSuite('go')

  /**
   * A go point on SQLite in memory, with the package's limits: no minimum
   * TTL, at most 72 h
   */
  async function goPoint (): Promise<Driver> {
    return interop.driver(['point'])
  }

  async function goClient (point: string): Promise<Driver> {
    return interop.driver(['client', point])
  }

  it('go point: our client registers, pages with cookies, unregisters, and gets E_INVALID_TTL and E_INVALID_COOKIE', async () => {
    const point = await goPoint()
    const address = point.ready.multiaddrs[0]
    const others = [await goClient(address), await goClient(address), await goClient(address)]
    const otherIds = others.map(other => other.ready.peerId)

    for (const other of others) {
      await expectRegistered(other, 'go-a', 60)
    }

    // 'auto': the go point takes the standard record
    const ours = await interop.ourClient({ rendezvousPoints: [address] })
    const ourId = ours.peerId.toString()
    expect(await ours.services.rendezvous.register('go-a', { ttl: 60_000 })).to.equal(60_000)

    const held = await point.command<DriverRegistration[]>({ cmd: 'registrations', ns: 'go-a' })
    expect(peerIds(held)).to.have.members([...otherIds, ourId])
    expect(held.find(registration => registration.peerId === ourId)?.multiaddrs.sort()).to.deep.equal(recordAddresses(ours))

    // DISCOVER with limit 1 and the cookie of the page before
    const pages = await pageWithOurClient(ours, address, 'go-a', 1)
    expect(pages.map(page => page.length)).to.deep.equal([1, 1, 1, 1])
    expect(pages.flat()).to.have.members([...otherIds, ourId])

    // the go point answers with ns = '': discover() reports the namespace
    // asked
    const peers = []
    for await (const peer of ours.services.rendezvous.discover('go-a')) {
      peers.push(peer)
    }
    expect(peers.map(peer => peer.id.toString())).to.have.members(otherIds)
    expect(peers.map(peer => peer.ns)).to.deep.equal(['go-a', 'go-a', 'go-a'])
    peers.forEach(peer => { expect(peer.multiaddrs.map(String).sort()).to.deep.equal(driverAddresses(others[otherIds.indexOf(peer.id.toString())])) })

    // nothing registered and no cookie sent: the go point sends no cookie
    const { node, privateKey } = await interop.ourNode()
    const context = requestContext(node)
    const empty = await sendDiscover(context, multiaddr(address), { namespace: 'go-empty', limit: 10 }, { signal: AbortSignal.timeout(10_000) })
    expect(empty.registrations).to.be.empty()
    expect(empty.cookie).to.be.undefined()
    expect(await discoverAll(ours, 'go-empty')).to.have.property('size', 0)

    // a TTL over 72 h, which our components refuse to ask for, sent by our
    // request code
    const record = await sealPeerRecord(privateKey, node.peerId, node.getMultiaddrs())
    await expect(sendRegister(context, multiaddr(address), { namespace: 'go-a', signedPeerRecord: record, ttl: 73 * HOUR }, { signal: AbortSignal.timeout(10_000) }))
      .to.eventually.be.rejected.with.property('name', 'InvalidTTLError')

    // a cookie of another namespace
    const first = await sendDiscover(context, multiaddr(address), { namespace: 'go-a', limit: 1 }, { signal: AbortSignal.timeout(10_000) })
    await expect(sendDiscover(context, multiaddr(address), { namespace: 'go-b', limit: 1, cookie: first.cookie }, { signal: AbortSignal.timeout(10_000) }))
      .to.eventually.be.rejected.with.property('name', 'InvalidCookieError')

    // UNREGISTER has no answer: the point's registrations are polled
    await ours.services.rendezvous.unregister('go-a')
    await pollDriver<DriverRegistration[]>(point, { cmd: 'registrations', ns: 'go-a' },
      registrations => !peerIds(registrations).includes(ourId), 'the go point dropped our registration')
  })

  it('our point: go clients register, page with cookies, unregister, and get E_INVALID_TTL and E_INVALID_COOKIE', async () => {
    const point = await interop.ourPoint()
    const address = point.getMultiaddrs()[0].toString()
    const clients = [await goClient(address), await goClient(address), await goClient(address)]
    const ids = clients.map(client => client.ready.peerId)

    // each go request is answered on a stream the client never closes, and
    // reset by it after the answer
    for (const client of clients) {
      await expectRegistered(client, 'go-c', 60)
    }

    const pages = await pageWithDriver(clients[0], 'go-c', 1)
    expect(pages.map(page => page.length)).to.deep.equal([1, 1, 1])
    expect(pages.flat()).to.have.members(ids)

    const page = await clients[1].command<DriverPage>({ cmd: 'discover', ns: 'go-c' })
    expect(page.cookie).to.be.a('string')
    for (const registration of page.registrations) {
      expect(registration.ns).to.equal('go-c')
      expect(registration.ttl).to.be.within(50, 60)
      expect(registration.multiaddrs.sort()).to.deep.equal(driverAddresses(clients[ids.indexOf(registration.peerId)]))
    }

    // a TTL under our minimum, with our text
    const tooShort = await expectRefusal(clients[0].command({ cmd: 'register', ns: 'go-c', ttl: 30 }))
    expect(tooShort.status).to.equal('E_INVALID_TTL')
    expect(tooShort.message).to.include('ttl must be between 60 and 259200 seconds')

    // a cookie of another namespace
    const other = await clients[0].command<DriverPage>({ cmd: 'discover', ns: 'go-c2' })
    const foreign = await expectRefusal(clients[0].command({ cmd: 'discover', ns: 'go-c', cookie: other.cookie }))
    expect(foreign.status).to.equal('E_INVALID_COOKIE')

    // UNREGISTER, written and closed by the go client
    await clients[2].command({ cmd: 'unregister', ns: 'go-c' })
    await pollDriver<DriverPage>(clients[0], { cmd: 'discover', ns: 'go-c' },
      page => !peerIds(page.registrations).includes(ids[2]), 'our point dropped the go client\'s registration')

    // the point still serves the others after all those resets
    expect(peerIds((await clients[1].command<DriverPage>({ cmd: 'discover', ns: 'go-c' })).registrations)).to.have.members(ids.slice(0, 2))
  })

  it('our point: a go client and our client find each other', async () => {
    const point = await interop.ourPoint()
    const address = point.getMultiaddrs()[0].toString()
    const ours = await interop.ourClient({ rendezvousPoints: [address] })
    expect(await ours.services.rendezvous.register('go-d', { ttl: 60_000 })).to.equal(60_000)

    const goPeer = await goClient(address)
    await expectRegistered(goPeer, 'go-d', 60)

    const seenByGo = await goPeer.command<DriverPage>({ cmd: 'discover', ns: 'go-d' })
    expect(peerIds(seenByGo.registrations)).to.have.members([ours.peerId.toString(), goPeer.ready.peerId])
    expect(seenByGo.registrations.find(registration => registration.peerId === ours.peerId.toString())?.multiaddrs.sort()).to.deep.equal(recordAddresses(ours))

    const found = await discoverAll(ours, 'go-d')
    expect([...found.keys()]).to.deep.equal([goPeer.ready.peerId])
    expect(found.get(goPeer.ready.peerId)).to.deep.equal(driverAddresses(goPeer))
  })

  it('our command: a go client and our client find each other', async () => {
    const address = await interop.ourCommand()
    const ours = await interop.ourClient({ rendezvousPoints: [address] })
    expect(await ours.services.rendezvous.register('go-f', { ttl: 60_000 })).to.equal(60_000)

    const goPeer = await goClient(address)
    const seenByGo = await goPeer.command<DriverPage>({ cmd: 'discover', ns: 'go-f' })
    expect(peerIds(seenByGo.registrations)).to.deep.equal([ours.peerId.toString()])
    await expectRegistered(goPeer, 'go-f', 60)

    const found = await discoverAll(ours, 'go-f')
    expect([...found.keys()]).to.deep.equal([goPeer.ready.peerId])
    expect(found.get(goPeer.ready.peerId)).to.deep.equal(driverAddresses(goPeer))
  })

  it('go point: our discovery component in peerDiscovery and a go client find each other', async () => {
    const point = await goPoint()
    const address = point.ready.multiaddrs[0]
    const goPeer = await goClient(address)
    await expectRegistered(goPeer, 'go-e', 60)

    const ours = await interop.ourClient({ rendezvousPoints: [address], namespaces: ['go-e'], ttl: 60_000 }, 'peerDiscovery')
    const event = await peerEvent(findDiscovery(ours), goPeer.ready.peerId, 'the go client was not found at the go point')
    expect(event.detail.multiaddrs.map(ma => ma.toString()).sort()).to.deep.equal(driverAddresses(goPeer))

    // its record went into the peer store: its addresses are certified
    const peer = await ours.peerStore.get(event.detail.id)
    expect(peer.addresses.map(address => address.multiaddr.toString()).sort()).to.deep.equal(driverAddresses(goPeer))
    expect(peer.addresses.every(address => address.isCertified)).to.be.true()

    await pollDriver<DriverPage>(goPeer, { cmd: 'discover', ns: 'go-e' },
      page => peerIds(page.registrations).includes(ours.peerId.toString()), 'the go client found us at the go point')
  })
})

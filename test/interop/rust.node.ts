/**
 * Interop with rust-libp2p: libp2p 0.57 with libp2p-rendezvous 0.18, built
 * from crates.io (interop/rust, built by scripts/build-interop-peers.sh) and
 * run as processes of their own. Our nodes run js-libp2p v3 over TCP, noise
 * and yamux on 127.0.0.1.
 *
 * rust-libp2p signs and accepts only its legacy peer record format, drops a
 * request it cannot decode without an answer, and fails a whole DISCOVER
 * answer holding a record it cannot verify.
 */
import { expect } from 'aegir/chai'
import { findDiscovery } from '../fixtures/discovery.ts'
import { expectRefusal, expectRegistered, pageWithDriver, pollDriver } from './driver.ts'
import { discoverAll, driverAddresses, interopSuite, pageWithOurClient, peerEvent, peerIds, recordAddresses, watchIdentify } from './harness.ts'
import type { Driver, DriverPage, DriverRegistration } from './driver.ts'

describe('interop with rust-libp2p 0.57, libp2p-rendezvous 0.18 (rust)', function () {
  this.timeout(60_000)

  const interop = interopSuite('rust')

  /**
   * A rust-libp2p point. Its minimum TTL is 2 h unless lowered, here to 60 s;
   * its idle connection timeout (10 s by default) is raised so that no
   * connection drops between two steps of a test.
   */
  async function rustPoint (): Promise<Driver> {
    return interop.driver(['point', '--min-ttl', '60', '--idle-timeout', '300'])
  }

  /**
   * A rust-libp2p client connected to `point`: ready once the point and it
   * have identified each other. It signs its listen address.
   */
  async function rustClient (point: string): Promise<Driver> {
    return interop.driver(['client', point, '--idle-timeout', '300'])
  }

  it('rust point: our client registers (legacy record), pages with cookies, unregisters, and gets E_INVALID_TTL', async () => {
    const point = await rustPoint()
    const address = point.ready.multiaddrs[0]
    const others = [await rustClient(address), await rustClient(address), await rustClient(address)]
    const otherIds = others.map(other => other.ready.peerId)

    for (const other of others) {
      await expectRegistered(other, 'rust-a', 3600)
    }

    // 'auto': the point drops our standard record without an answer, and
    // grants the legacy one the TTL asked for
    const ours = await interop.ourClient({ rendezvousPoints: [address] })
    const ourId = ours.peerId.toString()
    expect(await ours.services.rendezvous.register('rust-a', { ttl: 120_000 })).to.equal(120_000)

    const held = await point.command<DriverRegistration[]>({ cmd: 'registrations', ns: 'rust-a' })
    expect(peerIds(held)).to.have.members([...otherIds, ourId])
    expect(held.find(registration => registration.peerId === ourId)?.multiaddrs.sort()).to.deep.equal(recordAddresses(ours))

    // DISCOVER with limit 1 and the cookie of the page before: each
    // registration once, none left out
    const pages = await pageWithOurClient(ours, address, 'rust-a', 1)
    expect(pages.map(page => page.length)).to.deep.equal([1, 1, 1, 1])
    expect(pages.flat()).to.have.members([...otherIds, ourId])

    // discover() opens their legacy records
    const found = await discoverAll(ours, 'rust-a')
    expect([...found.keys()]).to.have.members(otherIds)
    others.forEach(other => { expect(found.get(other.ready.peerId)).to.deep.equal(driverAddresses(other)) })

    // a TTL under the point's minimum
    await expect(ours.services.rendezvous.register('rust-b', { ttl: 30_000 })).to.eventually.be.rejected
      .with.property('name', 'InvalidTTLError')

    // UNREGISTER has no answer: the point's registrations are polled
    await ours.services.rendezvous.unregister('rust-a')
    await pollDriver<DriverRegistration[]>(point, { cmd: 'registrations', ns: 'rust-a' },
      registrations => !peerIds(registrations).includes(ourId), 'the rust point dropped our registration')
    const seenByRust = await others[0].command<DriverPage>({ cmd: 'discover', ns: 'rust-a' })
    expect(peerIds(seenByRust.registrations)).to.have.members(otherIds)
  })

  it('our point: rust clients register, page with cookies, unregister, and get E_INVALID_TTL and E_INVALID_COOKIE', async () => {
    const point = await interop.ourPoint()
    const address = point.getMultiaddrs()[0].toString()
    const clients = [await rustClient(address), await rustClient(address), await rustClient(address)]
    const ids = clients.map(client => client.ready.peerId)

    // our point takes their legacy records
    for (const client of clients) {
      await expectRegistered(client, 'rust-c', 120)
    }

    // no TTL asked: our default, 2 h
    expect(await clients[0].command({ cmd: 'register', ns: 'rust-c2' })).to.deep.equal({ ttl: 7200 })

    // rust's client parses our cookies (8 bytes, then UTF-8) and pages
    // with them
    const pages = await pageWithDriver(clients[0], 'rust-c', 1)
    expect(pages.map(page => page.length)).to.deep.equal([1, 1, 1])
    expect(pages.flat()).to.have.members(ids)

    // the records come back verbatim, with ns, ttl and the signed addresses
    const page = await clients[1].command<DriverPage>({ cmd: 'discover', ns: 'rust-c' })
    for (const registration of page.registrations) {
      const client = clients[ids.indexOf(registration.peerId)]
      expect(registration.ns).to.equal('rust-c')
      expect(registration.ttl).to.be.within(100, 120)
      expect(registration.multiaddrs.sort()).to.deep.equal(driverAddresses(client))
    }

    // a TTL under our minimum of 60 s
    const tooShort = await expectRefusal(clients[0].command({ cmd: 'register', ns: 'rust-c', ttl: 30 }))
    expect(tooShort.status).to.equal('E_INVALID_TTL')

    // a cookie of another namespace
    const other = await clients[0].command<DriverPage>({ cmd: 'discover', ns: 'rust-c2' })
    const foreign = await expectRefusal(clients[0].command({ cmd: 'discover', ns: 'rust-c', cookie: other.cookie }))
    expect(foreign.status).to.equal('E_INVALID_COOKIE')

    // UNREGISTER
    await clients[2].command({ cmd: 'unregister', ns: 'rust-c' })
    await pollDriver<DriverPage>(clients[0], { cmd: 'discover', ns: 'rust-c' },
      page => !peerIds(page.registrations).includes(ids[2]), 'our point dropped the rust client\'s registration')
  })

  it('our point: a rust client and our clients find each other in a namespace holding both record formats', async () => {
    const point = await interop.ourPoint()
    const address = point.getMultiaddrs()[0].toString()
    const identified = watchIdentify(point)

    // one of ours registers in the standard format, one in the legacy one
    const standard = await interop.ourClient({ rendezvousPoints: [address] })
    const legacy = await interop.ourClient({ rendezvousPoints: [{ multiaddr: address, recordFormat: 'legacy' }] })
    await standard.services.rendezvous.register('rust-d')
    await legacy.services.rendezvous.register('rust-d')

    const rustPeer = await rustClient(address)
    const rustId = rustPeer.ready.peerId
    await expectRegistered(rustPeer, 'rust-d', 120)

    // our point knows the client's agent version, rust-libp2p/<version>,
    // once identify has run, and then serves it the legacy records only:
    // the ones it can verify, and no failed DISCOVER
    await identified(rustId)
    const seenByRust = await rustPeer.command<DriverPage>({ cmd: 'discover', ns: 'rust-d' })
    expect(peerIds(seenByRust.registrations)).to.have.members([legacy.peerId.toString(), rustId])

    // paging with limit 1 skips the standard record without a gap
    const pages = await pageWithDriver(rustPeer, 'rust-d', 1)
    expect(pages.map(page => page.length)).to.deep.equal([1, 1])
    expect(pages.flat()).to.have.members([legacy.peerId.toString(), rustId])

    // both of ours find the rust client, with the addresses it signed
    for (const ours of [standard, legacy]) {
      const found = await discoverAll(ours, 'rust-d')
      expect(found.get(rustId)).to.deep.equal(driverAddresses(rustPeer))
    }

    // what the rust client gets from a point that serves it every record:
    // it cannot verify the standard one and fails the whole DISCOVER
    const unfiltered = await interop.ourPoint({ legacyRecordAgents: [] })
    const unfilteredAddress = unfiltered.getMultiaddrs()[0].toString()
    const standardThere = await interop.ourClient({ rendezvousPoints: [unfilteredAddress] })
    await standardThere.services.rendezvous.register('rust-d')
    const failing = await rustClient(unfilteredAddress)
    const failed = await expectRefusal(failing.command({ cmd: 'discover', ns: 'rust-d' }))
    expect(failed.status).to.equal('E_UNAVAILABLE')
  })

  it('our command, which identifies a client only when it must: a rust client that asks for records first is asked its agent and served the legacy ones only', async () => {
    const address = await interop.ourCommand()
    const standard = await interop.ourClient({ rendezvousPoints: [address] })
    const legacy = await interop.ourClient({ rendezvousPoints: [{ multiaddr: address, recordFormat: 'legacy' }] })
    await standard.services.rendezvous.register('rust-f')
    await legacy.services.rendezvous.register('rust-f')

    // ready once it has identified the point: the point has not asked yet
    const rustPeer = await interop.driver(['client', address, '--idle-timeout', '300', '--ready-when', 'point'])
    const rustId = rustPeer.ready.peerId
    const seenByRust = await rustPeer.command<DriverPage>({ cmd: 'discover', ns: 'rust-f' })
    expect(peerIds(seenByRust.registrations)).to.deep.equal([legacy.peerId.toString()])

    // it registers and finds itself; ours find it
    await expectRegistered(rustPeer, 'rust-f', 120)
    const again = await rustPeer.command<DriverPage>({ cmd: 'discover', ns: 'rust-f' })
    expect(peerIds(again.registrations)).to.have.members([legacy.peerId.toString(), rustId])

    const found = await discoverAll(standard, 'rust-f')
    expect(found.get(rustId)).to.deep.equal(driverAddresses(rustPeer))
  })

  it('rust point: our discovery component in peerDiscovery and a rust client find each other', async () => {
    const point = await rustPoint()
    const address = point.ready.multiaddrs[0]
    const rustPeer = await rustClient(address)
    await expectRegistered(rustPeer, 'rust-e', 120)

    const ours = await interop.ourClient({ rendezvousPoints: [address], namespaces: ['rust-e'], ttl: 120_000 }, 'peerDiscovery')
    const event = await peerEvent(findDiscovery(ours), rustPeer.ready.peerId, 'the rust client was not found at the rust point')
    expect(event.detail.multiaddrs.map(ma => ma.toString()).sort()).to.deep.equal(driverAddresses(rustPeer))

    // its addresses are in the peer store, uncertified: the peer store
    // cannot open its record
    const peer = await ours.peerStore.get(event.detail.id)
    expect(peer.addresses.map(address => address.multiaddr.toString()).sort()).to.deep.equal(driverAddresses(rustPeer))

    // and the rust client finds us, registered in the legacy format
    await pollDriver<DriverPage>(rustPeer, { cmd: 'discover', ns: 'rust-e' },
      page => peerIds(page.registrations).includes(ours.peerId.toString()), 'the rust client found us at the rust point')
  })
})

import tests from '@libp2p/interface-compliance-tests/peer-discovery'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { RendezvousDiscovery } from '../../src/client/rendezvous-discovery.ts'
import { ADDRESS_CHANGE_DEBOUNCE } from '../../src/constants.ts'
import { InvalidTTLError, rendezvous } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { findDiscovery, recordDiscoveries, recordDials, startPoint } from '../fixtures/discovery.ts'
import { discovered as discoverResponse, recordFormatOf, registered, startHandPoint } from '../fixtures/hand-point.ts'
import { createNode, newPrivateKey, openRendezvousStream, signedPeerRecord } from '../fixtures/nodes.ts'
import { WatchedStore } from '../fixtures/watched-store.ts'
import type { Rendezvous, RendezvousInit } from '../../src/index.ts'
import type { Point } from '../fixtures/discovery.ts'
import type { Libp2p, PeerInfo, PrivateKey } from '@libp2p/interface'

/**
 * Resolves once the rendezvous component of `node` has emitted `count`
 * distinct peers
 */
async function discovered (node: Libp2p, count: number, events: PeerInfo[]): Promise<void> {
  while (new Set(events.map(event => event.id.toString())).size < count) {
    await pEvent(findDiscovery(node), 'peer')
  }
}

/**
 * Resolves once `node`'s rendezvous component has emitted `peer` `times`
 * times
 */
async function emitted (node: Libp2p, peer: Libp2p | { peerId: Libp2p['peerId'] }, events: PeerInfo[], times = 1): Promise<void> {
  while (events.filter(event => event.id.equals(peer.peerId)).length < times) {
    await pEvent(findDiscovery(node), 'peer')
  }
}

/**
 * A peer that registers by hand, with exactly the record bytes a test gives
 */
async function handRegistrant (privateKey?: PrivateKey): Promise<{ node: Libp2p, privateKey: PrivateKey }> {
  privateKey ??= await newPrivateKey()
  return { node: await createNode({ privateKey }), privateKey }
}

async function registerByHand (node: Libp2p, point: Point, record: Uint8Array<ArrayBuffer>, ttl: bigint, ns = 'ns'): Promise<void> {
  const stream = await openRendezvousStream(node, point.node)
  const response = await stream.request({ type: Message.MessageType.REGISTER, register: { ns, ttl, signedPeerRecord: record } })
  await stream.stream.close()
  expect(response.registerResponse?.status ?? Message.ResponseStatus.OK).to.equal(Message.ResponseStatus.OK)
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

  async function restartPoint (init = {}): Promise<void> {
    const identity = { privateKey: point.privateKey, address: point.address }
    await point.node.stop()
    point = await startPoint(init, identity)
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

    // each registered once
    expect(point.store.puts).to.have.lengthOf(3)
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

  it('announces its addresses in the peer record, puts certified addresses in the peer store with a tag, and dials no peer', async () => {
    const [a, b] = [await newClient(), await newClient({ tagName: 'found-at-rendezvous', tagValue: 20 })]
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)

    expect(events[0].id.equals(a.peerId)).to.be.true()
    expect(events[0].multiaddrs.map(ma => ma.toString())).to.deep.equal(a.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()))

    const peer = await b.peerStore.get(a.peerId)
    expect(peer.peerRecordEnvelope).to.be.ok()
    expect(peer.addresses.every(address => address.isCertified)).to.be.true()
    expect(peer.tags.get('found-at-rendezvous')?.value).to.equal(20)
    expect(b.getConnections(a.peerId)).to.be.empty()
  })

  it('stays discoverable past its first TTL by registering again at 80 % of it, before it runs out', async () => {
    await restartPoint({ minTtl: 1000 })
    // long enough that a loaded machine's late timer stays inside the TTL
    const ttl = 3000
    const a = await newClient({ ttl })
    const aId = a.peerId.toString()
    const registrations = (): number[] => point.store.puts.filter(put => put.peerId === aId).map(put => put.at)

    await point.store.until(() => registrations().length >= 3)

    const times = registrations()
    for (let i = 1; i < times.length; i++) {
      const gap = times[i] - times[i - 1]
      // timers may fire a millisecond early as Date.now() sees them
      expect(gap, `refresh ${i}`).to.be.at.least(0.8 * ttl - 2).and.below(ttl)
    }

    const b = await newClient({ namespaces: [], discoverNamespaces: ['ns'] })
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)
    expect(events[0].id.equals(a.peerId)).to.be.true()
  })

  it('registers again when its addresses change, once they have settled for a second, and others see the new address', async () => {
    const [a, b] = [await newClient(), await newClient()]
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)
    await point.store.until(() => point.store.registered(a) === 1)

    const transportManager = (a as any).components.transportManager
    await transportManager.listen([multiaddr(`/memory/rendezvous-first-new-${Date.now()}`)])
    await new Promise(resolve => setTimeout(resolve, ADDRESS_CHANGE_DEBOUNCE / 2))
    const newAddress = `/memory/rendezvous-new-address-${Date.now()}`
    await transportManager.listen([multiaddr(newAddress)])
    const settledAt = Date.now()

    while (!events.some(event => event.multiaddrs.some(ma => ma.toString() === newAddress))) {
      await pEvent(findDiscovery(b), 'peer')
    }

    // two changes half a second apart: one REGISTER, a second after the last
    const puts = point.store.puts.filter(put => put.peerId === a.peerId.toString())
    expect(puts).to.have.lengthOf(2)
    expect(puts[1].at - settledAt).to.be.at.least(ADDRESS_CHANGE_DEBOUNCE - 2)
    expect(events.filter(event => event.id.equals(a.peerId))).to.have.lengthOf(2)
  })

  it('registers everything again within one interval at a point that restarted empty', async () => {
    const discoverInterval = 1000
    const clients = [await newClient({ discoverInterval, maxReconnectDelay: 200 }), await newClient({ discoverInterval, maxReconnectDelay: 200 })]
    await point.store.until(() => point.store.puts.length >= 2)

    await restartPoint()
    const restartedAt = Date.now()

    await point.store.until(() => new Set(point.store.puts.map(put => put.peerId)).size === 2)
    // a round comes within the interval and its REGISTER a few ms later; the
    // bound leaves room for a loaded machine, and still fails a client that
    // waits for a later round or for its refresh
    expect(Date.now() - restartedAt).to.be.below(3 * discoverInterval)
    expect(point.store.puts.map(put => put.peerId).sort()).to.deep.equal(clients.map(client => client.peerId.toString()).sort())

    // the old cookies are refused by the new point, so polling starts over
    // and a newcomer is still found
    const events = recordDiscoveries(clients[0])
    const newcomer = await newClient()
    await emitted(clients[0], newcomer, events)
  })

  it('emits a peer again when it returns with the very same record after its registration lapsed', async () => {
    await restartPoint({ minTtl: 1000 })
    const b = await newClient()
    const events = recordDiscoveries(b)
    const a = await handRegistrant()
    nodes.push(a.node)
    const record = await signedPeerRecord(a.privateKey, a.node.getMultiaddrs())

    await registerByHand(a.node, point, record, 1n)
    const lapsesAt = Date.now() + 1000
    await discovered(b, 1, events)

    // past the lapse, A registers again with the identical envelope: only
    // the lapse makes it new
    await new Promise(resolve => setTimeout(resolve, lapsesAt - Date.now() + 50))
    await registerByHand(a.node, point, record, 1n)

    // a few rounds of polls later, it has been emitted again
    const polls = point.store.discovers
    await point.store.until(() => point.store.discovers >= polls + 6)
    expect(events.filter(event => event.id.equals(a.node.peerId))).to.have.lengthOf(2)
  })

  it('retries a point that is down at start with growing delays, and uses it once it is up', async function () {
    this.timeout(20_000)
    const identity = { privateKey: point.privateKey, address: point.address }
    await point.node.stop()

    const client = await createNode({
      start: false,
      peerDiscovery: [rendezvous({ rendezvousPoints: [point.address], namespaces: ['ns'], discoverNamespaces: [], maxReconnectDelay: 4000 })]
    })
    nodes.push(client)
    const thirdDial = Promise.withResolvers<void>()
    const dials = recordDials(client, point.node.peerId, count => {
      if (count === 3) {
        thirdDial.resolve()
      }
    })

    await client.start()
    await thirdDial.promise

    point = await startPoint({}, identity)
    await point.store.until(() => point.store.registered(client) > 0)

    // waits of 0.5 to 1 s, then 1 to 2 s (backoff with jitter): a timer never
    // fires early, but a loaded machine may fire it late, so only the lower
    // bounds are certain; backoff.spec.ts checks the draws themselves
    const gaps = dials.slice(1).map((time, i) => time - dials[i])
    expect(gaps[0]).to.be.at.least(500 - 2)
    expect(gaps[1]).to.be.at.least(1000 - 2)
  })

  it('unregisters on stop, and starts again', async () => {
    const [a, b] = [await newClient(), await newClient()]
    const events = recordDiscoveries(b)
    await discovered(b, 1, events)

    await a.stop()
    expect(await namespaceMembers(point)).to.deep.equal([b.peerId.toString()])

    await a.start()
    await point.store.until(() => point.store.count() === 2)
  })

  it('unregisters all of more namespaces than the point takes streams at once, each registered once', async () => {
    const namespaces = Array.from({ length: 40 }, (_, i) => `ns-${i}`)
    const client = await newClient({ namespaces, discoverNamespaces: [] })
    await point.store.until(() => point.store.count() === 40)

    expect(point.store.registered(client)).to.equal(40)
    await client.stop()
    expect(point.store.count()).to.equal(0)
  })

  it('leaves no registration behind when stopped with a REGISTER in flight', async function () {
    this.timeout(60_000)
    const { store } = point

    for (let run = 0; run < 20; run++) {
      const client = await newClient({ namespaces: [], discoverNamespaces: [] }, 'services')

      // the point holds the REGISTER until stop() is under way, so an
      // UNREGISTER sent at once would overtake it
      const gate = Promise.withResolvers<void>()
      store.gate = gate.promise
      const entered = new Promise<void>(resolve => { store.onPut = resolve })
      const registering = client.services.rendezvous.register('ns').catch(() => {})
      await entered

      const stopping = client.stop()
      setTimeout(() => { gate.resolve() }, 20)
      await stopping
      await registering
      store.gate = undefined
      store.onPut = undefined

      expect(await namespaceMembers(point), `run ${run}`).to.be.empty()
    }
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

  it('lists every namespace with discover(\'\')', async () => {
    const a = await newClient({ namespaces: ['one'], discoverNamespaces: [] })
    const b = await newClient({ namespaces: ['two'], discoverNamespaces: [] })
    const client = await newClient({ namespaces: [], discoverNamespaces: [] }, 'services')
    await point.store.until(() => point.store.count() === 2)

    const found = []
    for await (const peer of client.services.rendezvous.discover('')) {
      found.push([peer.id.toString(), peer.ns])
    }

    expect(found.sort()).to.deep.equal([[a.peerId.toString(), 'one'], [b.peerId.toString(), 'two']].sort())
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

  it('finds a live peer past 10,000 lapsed registrations, in discover() and in polls', async function () {
    this.timeout(30_000)
    const store = new WatchedStore({ expiryInterval: 3_600_000 })
    const lapsing = Date.now() + 200
    const record = new Uint8Array([1])

    for (let i = 0; i < 10_000; i++) {
      await store.put({ peerId: `lapsed-${i}`, namespace: 'ns', signedPeerRecord: record, expiresAt: lapsing }, { maxRegistrationsPerPeer: 1000, maxRegistrations: 1_000_000, maxStoreBytes: 1024 ** 3, maxRegistrationsPerHost: 1_000_000 })
    }

    await restartPoint({ store })
    const live = await newClient({ discoverNamespaces: [] })
    await point.store.until(() => point.store.registered(live) > 0)
    await new Promise(resolve => setTimeout(resolve, lapsing - Date.now() + 10))

    const client = await newClient({ namespaces: [], discoverNamespaces: ['ns'], discoverInterval: 100 }, 'services')
    const events = recordDiscoveries(client)
    const found = []
    for await (const peer of client.services.rendezvous.discover('ns')) {
      found.push(peer.id.toString())
    }
    expect(found).to.deep.equal([live.peerId.toString()])

    await emitted(client, live, events)
  })

  it('follows a full page with the next one at once when polling', async () => {
    for (let i = 0; i < 5; i++) {
      await newClient({ namespaces: ['many'], discoverNamespaces: [] })
    }
    await point.store.until(() => point.store.count() >= 5)

    // one round only in the time of the test
    const client = await newClient({ namespaces: [], discoverNamespaces: ['many'], discoverLimit: 2, discoverInterval: 600_000 })
    const events = recordDiscoveries(client)
    await discovered(client, 5, events)
  })

  it('forgets the peer emitted longest ago past maxPeers, and emits it again when it is heard of again', async () => {
    const registrants = [await handRegistrant(), await handRegistrant(), await handRegistrant()]
    nodes.push(...registrants.map(r => r.node))
    const records = await Promise.all(registrants.map(async r => signedPeerRecord(r.privateKey, r.node.getMultiaddrs())))
    const forgetful = await newClient({ namespaces: [], discoverNamespaces: ['ns'], maxPeers: 2 })
    const mindful = await newClient({ namespaces: [], discoverNamespaces: ['ns'] })
    const [forgot, kept] = [recordDiscoveries(forgetful), recordDiscoveries(mindful)]

    for (let i = 0; i < 3; i++) {
      await registerByHand(registrants[i].node, point, records[i], 7200n)
      await Promise.all([emitted(forgetful, registrants[i].node, forgot), emitted(mindful, registrants[i].node, kept)])
    }

    // the first registers again, with the identical record
    await registerByHand(registrants[0].node, point, records[0], 7200n)
    await emitted(forgetful, registrants[0].node, forgot, 2)

    const polls = point.store.discovers
    await point.store.until(() => point.store.discovers >= polls + 4)
    expect(kept).to.have.lengthOf(3)
  })

  it('cancels register() and discover() with their signal', async () => {
    const blackHole = await createNode()
    nodes.push(blackHole)
    await blackHole.handle('/rendezvous/1.0.0', () => {})
    const client = await createNode<{ rendezvous: Rendezvous }>({
      services: { rendezvous: rendezvous({ rendezvousPoints: [blackHole.getMultiaddrs()[0]], timeout: 60_000 }) }
    })
    nodes.push(client)

    const registering = new AbortController()
    const registration = client.services.rendezvous.register('ns', { signal: registering.signal })
    registering.abort()
    await expect(registration).to.eventually.be.rejected.with.property('name', 'AbortError')

    const discovering = new AbortController()
    const discovery = client.services.rendezvous.discover('ns', { signal: discovering.signal })[Symbol.asyncIterator]().next()
    setTimeout(() => { discovering.abort() }, 50)
    await expect(discovery).to.eventually.be.rejected.with.property('name', 'AbortError')
  })

  it('rejects register with the typed error of the status when no point accepts it', async () => {
    await restartPoint({ minTtl: 7_200_000, defaultTtl: 7_200_000 })
    const client = await newClient({ namespaces: [] }, 'services')

    await expect(client.services.rendezvous.register('ns', { ttl: 60_000 })).to.eventually.be.rejected
      .with.property('name', InvalidTTLError.name)
    expect(point.store.count()).to.equal(0)
  })

  describe('with several points', () => {
    let other: Point

    beforeEach(async () => {
      other = await startPoint({ maxTtl: 3_600_000, defaultTtl: 3_600_000 })
    })

    afterEach(async () => {
      await other.node.stop()
    })

    it('resolves register() with the smallest TTL granted', async () => {
      const client = await newClient({ rendezvousPoints: [point.address, other.address], namespaces: [] }, 'services')

      expect(await client.services.rendezvous.register('ns', { ttl: 3_600_000 })).to.equal(3_600_000)
      await other.node.stop()
      other = await startPoint({ maxTtl: 7_200_000, minTtl: 7_200_000, defaultTtl: 7_200_000 })
      const reversed = await newClient({ rendezvousPoints: [other.address, point.address], namespaces: [] }, 'services')
      expect(await reversed.services.rendezvous.register('ns', { ttl: 7_200_000 })).to.equal(7_200_000)
    })

    it('rejects register() only when every point refuses', async () => {
      const client = await newClient({ rendezvousPoints: [point.address, other.address], namespaces: [] }, 'services')

      // the other point's cap is 1 h: it refuses 2 h, this one takes it
      expect(await client.services.rendezvous.register('ns', { ttl: 7_200_000 })).to.equal(7_200_000)
      expect(point.store.count()).to.equal(1)
      expect(other.store.count()).to.equal(0)

      await expect(client.services.rendezvous.register('ns', { ttl: 1000 })).to.eventually.be.rejected
        .with.property('name', InvalidTTLError.name)
    })

    it('merges what every point lists, emitting and yielding each peer once', async () => {
      const ttl = 3_600_000
      const both = await newClient({ rendezvousPoints: [point.address, other.address], discoverNamespaces: [], ttl })
      const first = await newClient({ rendezvousPoints: [point.address], discoverNamespaces: [], ttl })
      const second = await newClient({ rendezvousPoints: [other.address], discoverNamespaces: [], ttl })
      await point.store.until(() => point.store.count() === 2)
      await other.store.until(() => other.store.count() === 2)

      const client = await newClient({ rendezvousPoints: [point.address, other.address], namespaces: [], discoverNamespaces: ['ns'] }, 'services')
      const events = recordDiscoveries(client)
      await discovered(client, 3, events)
      const polls = other.store.discovers
      await other.store.until(() => other.store.discovers >= polls + 5)

      const expected = [both, first, second].map(node => node.peerId.toString()).sort()
      expect(events.map(event => event.id.toString()).sort()).to.deep.equal(expected)

      const found = []
      for await (const peer of client.services.rendezvous.discover('ns')) {
        found.push(peer.id.toString())
      }
      expect(found.sort()).to.deep.equal(expected)
    })
  })

  describe('record formats', () => {
    it('registers at a point that takes only legacy records, and emits the legacy records it lists', async () => {
      const registrant = await handRegistrant()
      nodes.push(registrant.node)
      const { sealPeerRecord } = await import('../../src/signed-peer-record.ts')
      const legacyRecord = await sealPeerRecord(registrant.privateKey, registrant.node.peerId, registrant.node.getMultiaddrs().map(ma => ma.decapsulateCode(421)), { format: 'legacy' })

      const tookLegacy = Promise.withResolvers<void>()
      const legacy = await startHandPoint(async (request) => {
        if (request.type === Message.MessageType.DISCOVER) {
          // answered once the client learned the point's format
          await tookLegacy.promise
          return discoverResponse([{ ns: 'ns', signedPeerRecord: legacyRecord, ttl: 7200n }])
        }

        // a standard record is dropped without an answer, as rust-libp2p does
        if (await recordFormatOf(request) !== 'legacy') {
          return undefined
        }

        setTimeout(() => { tookLegacy.resolve() }, 10)
        return registered(7200n)
      })
      nodes.push(legacy.node)

      const client = await newClient({ rendezvousPoints: [{ multiaddr: legacy.address }], discoverInterval: 60_000 }, 'services')
      const events = recordDiscoveries(client)
      await emitted(client, registrant.node, events)
      expect(await client.services.rendezvous.register('other')).to.equal(7_200_000)

      const registers = legacy.requests.filter(({ message }) => message.type === Message.MessageType.REGISTER)
      const formats = await Promise.all(registers.map(async ({ message }) => recordFormatOf(message)))
      expect(formats).to.deep.equal(['standard', 'legacy', 'legacy'])

      const stored = await client.peerStore.get(registrant.node.peerId)
      expect(stored.addresses.map(a => a.multiaddr.toString())).to.deep.equal(registrant.node.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()))
    })

    it('signs the format a point\'s own options name', async () => {
      const legacy = await startHandPoint(() => registered(7200n))
      nodes.push(legacy.node)

      const client = await newClient({
        rendezvousPoints: [{ multiaddr: legacy.address.toString(), recordFormat: 'legacy' }, point.address],
        namespaces: [],
        recordFormat: 'standard'
      }, 'services')

      await client.services.rendezvous.register('ns')
      expect(await recordFormatOf(legacy.requests[0].message)).to.equal('legacy')
      expect(point.store.count()).to.equal(1)
    })
  })
})

/**
 * The peers registered in `ns` at a point, read from its store
 */
async function namespaceMembers (point: Point): Promise<string[]> {
  const page = await point.store.discover({ namespace: 'ns', after: 0, limit: 1000, now: Date.now() })
  return page.registrations.map(registration => registration.peerId)
}

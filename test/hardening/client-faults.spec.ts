/**
 * Faults a rendezvous client must survive, over real libp2p nodes (memory
 * transport, noise, yamux): a point that restarts, one that takes requests
 * and never answers, dropped connections, a point that stays down, one that
 * drops every connection, and points that answer what they should not.
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { Uint8ArrayList } from 'uint8arraylist'
import { PROTOCOL } from '../../src/constants.ts'
import { InvalidResponseError, NoResponseError, rendezvous } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { findDiscovery, recordDials, recordDiscoveries, startPoint } from '../fixtures/discovery.ts'
import { discovered as discoveredResponse, registered, startHandPoint } from '../fixtures/hand-point.ts'
import { createNode, newPrivateKey, signedPeerRecord } from '../fixtures/nodes.ts'
import { closed, parseFrames, within } from './helpers.ts'
import type { Rendezvous, RendezvousInit, RendezvousServerInit } from '../../src/index.ts'
import type { Point } from '../fixtures/discovery.ts'
import type { HandPoint } from '../fixtures/hand-point.ts'
import type { Libp2p, PeerInfo, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Resolves once `node`'s rendezvous component has emitted `peer`
 */
async function emits (node: Libp2p, peer: Libp2p, events: PeerInfo[]): Promise<void> {
  while (!events.some(event => event.id.equals(peer.peerId))) {
    await pEvent(findDiscovery(node), 'peer')
  }
}

interface Swallowed {
  stream: Stream
  /**
   * The types of the requests read so far
   */
  types: Array<Message.MessageType | undefined>
  /**
   * When the stream was opened
   */
  times: number[]
}

/**
 * Reads everything a stream sends and never writes
 */
function swallow (stream: Stream): Swallowed {
  const entry: Swallowed = { stream, types: [], times: [Date.now()] }
  const received = new Uint8ArrayList()

  stream.addEventListener('message', (event) => {
    received.append(event.data)

    try {
      entry.types = parseFrames(received).messages.map(message => message.type)
    } catch {
      entry.types = [undefined]
    }
  })

  return entry
}

describe('rendezvous client faults', () => {
  let point: Point
  let nodes: Libp2p[]

  async function newClient (init: Partial<RendezvousInit> = {}, address: Multiaddr = point.address): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
    const node = await createNode<{ rendezvous: Rendezvous }>({
      services: {
        rendezvous: rendezvous({
          rendezvousPoints: [address],
          namespaces: ['ns'],
          discoverInterval: 50,
          maxReconnectDelay: 200,
          ...init
        })
      }
    })
    nodes.push(node)
    return node
  }

  async function restartPoint (init: RendezvousServerInit = {}): Promise<void> {
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

  it('re-registers and resumes polling after each of two point restarts, and keeps finding newcomers', async () => {
    const [a, b] = [await newClient(), await newClient()]
    const events = recordDiscoveries(a)
    await emits(a, b, events)

    for (let restart = 0; restart < 2; restart++) {
      await restartPoint()
      const { store } = point

      // the restarted point is empty: both register again, and poll it
      await store.until(() => store.registered(a) > 0 && store.registered(b) > 0)
      await store.until(() => store.discovers >= 4)
      expect(store.count()).to.equal(2)

      // the old cookies are refused, polling starts over, and a newcomer is
      // found
      const newcomer = await newClient()
      await emits(a, newcomer, events)
      await newcomer.stop()
    }
  })

  describe('a point that takes requests and never answers', () => {
    const timeout = 300
    let blackHole: Libp2p
    let streams: Swallowed[]

    beforeEach(async () => {
      streams = []
      blackHole = await createNode()
      nodes.push(blackHole)

      await blackHole.handle(PROTOCOL, (stream) => {
        streams.push(swallow(stream))
      })
    })

    it('rejects register() and discover() within the timeout, leaving no stream open', async () => {
      const client = await newClient({ namespaces: [], discoverNamespaces: [], timeout }, blackHole.getMultiaddrs()[0])

      const started = Date.now()
      const error = await within(client.services.rendezvous.register('ns').catch((err: Error) => err), timeout * 10, 'register()')
      expect(error).to.be.an.instanceOf(Error)
      expect(error).to.have.property('name', 'TimeoutError')
      expect(Date.now() - started).to.be.at.least(timeout)

      const discovering = client.services.rendezvous.discover('ns')[Symbol.asyncIterator]().next()
      await expect(within(discovering, timeout * 10, 'discover()')).to.eventually.be.rejected.with.property('name', 'TimeoutError')

      const types = streams.map(entry => entry.types[0])
      expect(types).to.include(Message.MessageType.REGISTER)
      expect(types).to.include(Message.MessageType.DISCOVER)

      // the client gives up on every stream it opened: none lingers at the
      // point once it stops
      await within(client.stop(), timeout * 10, 'stop()')

      for (const { stream } of streams) {
        await closed(stream)
      }
    })

    // a failure landing after register() gave up must not schedule a retry
    // for a namespace the caller was told failed
    it('stops retrying a registration once register() has rejected', async function () {
      this.timeout(20_000)
      const client = await newClient({ namespaces: [], discoverNamespaces: [], timeout }, blackHole.getMultiaddrs()[0])

      await expect(client.services.rendezvous.register('ns')).to.eventually.be.rejected()
      const rejectedAt = Date.now()
      await new Promise(resolve => setTimeout(resolve, 3_000))

      expect(streams.filter(entry => entry.times[0] > rejectedAt), 'REGISTERs sent after register() rejected').to.be.empty()
    })

    it('backs off its retries: registrations and polls at most as often as the backoff allows', async function () {
      this.timeout(20_000)
      const client = await newClient({ timeout, maxReconnectDelay: 60_000 }, blackHole.getMultiaddrs()[0])

      // wait for the first retries of each, then watch a while longer
      const attemptsOf = (type: Message.MessageType): number[] => streams.filter(entry => entry.types[0] === type).map(entry => entry.times[0])
      const watch = 4_000
      await new Promise(resolve => setTimeout(resolve, watch))

      const registers = attemptsOf(Message.MessageType.REGISTER)
      const discovers = attemptsOf(Message.MessageType.DISCOVER)

      for (const attempts of [registers, discovers]) {
        expect(attempts.length, 'a first attempt and at least one retry').to.be.at.least(2)
        const gaps = attempts.slice(1).map((time, i) => time - attempts[i])

        // waits of 0.5 to 1 s, 1 to 2 s, 2 to 4 s ... after each timeout
        gaps.forEach((gap, i) => {
          expect(gap, `wait before retry ${i + 1}`).to.be.at.least(500 * 2 ** i - 2)
        })

        // so in `watch` ms, at most 1 + log2(watch / 0.5 s + 1) attempts
        expect(attempts.length).to.be.at.most(1 + Math.floor(Math.log2(watch / 500 + 1)))
      }

      await within(client.stop(), timeout * 10, 'stop()')

      for (const { stream } of streams) {
        await closed(stream)
      }
    })
  })

  describe('dropped connections', () => {
    async function survivesDrop (how: 'closes' | 'aborts'): Promise<void> {
      const [a, b] = [await newClient(), await newClient()]
      const events = recordDiscoveries(a)
      await emits(a, b, events)
      expect(point.store.registered(a)).to.equal(1)

      for (const connection of point.node.getConnections(a.peerId)) {
        if (how === 'closes') {
          await connection.close()
        } else {
          connection.abort(new Error('dropped by the test'))
        }
      }

      const newcomer = await newClient()
      await emits(a, newcomer, events)
      expect(point.store.registered(a)).to.equal(1)
    }

    for (const how of ['closes', 'aborts'] as const) {
      it(`takes a connection the point ${how} as nothing: no REGISTER, and polling goes on over a new one`, async () => {
        await survivesDrop(how)
      })
    }

    it('rejects a register() in flight when the connection drops, without waiting for the timeout, then registers again', async () => {
      const timeout = 10_000
      const client = await newClient({ namespaces: [], discoverNamespaces: [], timeout })

      let open: () => void = () => {}
      point.store.gate = new Promise<void>(resolve => { open = resolve })
      const entered = new Promise<void>(resolve => { point.store.onPut = resolve })

      const started = Date.now()
      const registering = client.services.rendezvous.register('in-flight').catch((err: Error) => err)
      await entered

      for (const connection of point.node.getConnections(client.peerId)) {
        connection.abort(new Error('dropped by the test'))
      }

      const error = await registering
      expect(error).to.be.an.instanceOf(Error)
      expect(Date.now() - started, 'rejected by the drop, not by the timeout').to.be.below(timeout)

      point.store.onPut = undefined
      open()

      // a new register() dials again and goes through
      expect(await client.services.rendezvous.register('in-flight', { ttl: 60_000 })).to.equal(60_000)
    })
  })

  it('keeps its attempts to reach a point that is down to what the backoff allows', async function () {
    this.timeout(20_000)
    const maxReconnectDelay = 500
    const client = await newClient({ namespaces: [], discoverNamespaces: ['ns'], maxReconnectDelay })
    await point.store.until(() => point.store.discovers > 0)
    const dials = recordDials(client, point.node.peerId)

    const identity = { privateKey: point.privateKey, address: point.address }
    await point.node.stop()
    const down = 3_000
    await new Promise(resolve => setTimeout(resolve, down))
    const attempts = [...dials]
    point = await startPoint({}, identity)

    // the client comes back on its own, and finds a newcomer
    const events = recordDiscoveries(client)
    const newcomer = await newClient()
    await emits(client, newcomer, events)

    // with a cap of 500 ms, waits are 250 to 500 ms: at most one attempt per
    // 250 ms, whatever the poll interval of 50 ms
    expect(attempts.length, 'attempts while the point was down').to.be.at.least(2)
    expect(attempts.length).to.be.at.most(1 + Math.floor(down / (maxReconnectDelay / 2)))
    const gaps = attempts.slice(1).map((time, i) => time - attempts[i])
    gaps.forEach((gap, i) => {
      expect(gap, `wait before attempt ${i + 2}`).to.be.at.least(maxReconnectDelay / 2 - 2)
    })

    // eslint-disable-next-line no-console
    console.info(`      ${attempts.length} dials in ${down} ms down (${Math.round(attempts.length * 60_000 / down)}/min), gaps ${gaps.join(', ')} ms`)
  })

  it('neither floods nor re-registers at a point that drops every connection 50 ms after it opens', async function () {
    this.timeout(20_000)
    point.node.addEventListener('connection:open', (event) => {
      setTimeout(() => { event.detail.abort(new Error('dropped by the point')) }, 50)
    })

    const discoverInterval = 1000
    const client = await newClient({ discoverInterval, maxReconnectDelay: 60_000 })
    const dials = recordDials(client, point.node.peerId)
    const watch = 5_000
    await new Promise(resolve => setTimeout(resolve, watch))

    // one REGISTER (two if the first one was dropped), one dial per round of
    // polls (plus the retries of rounds that were dropped, with backoff)
    expect(point.store.registered(client)).to.be.within(1, 2)
    expect(dials.length).to.be.at.most(2 * (watch / discoverInterval + 1))

    // eslint-disable-next-line no-console
    console.info(`      ${dials.length} dials and ${point.store.registered(client)} REGISTERs in ${watch} ms`)
  })

  describe('a point that answers what it should not', () => {
    async function clientOf (hand: HandPoint, init: Partial<RendezvousInit> = {}): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
      nodes.push(hand.node)
      return newClient({ namespaces: [], discoverNamespaces: [], ...init }, hand.address)
    }

    it('backs off a point granting a TTL of 0 instead of registering in a loop', async function () {
      this.timeout(20_000)
      const hand = await startHandPoint(() => registered(0n))
      const client = await clientOf(hand, { namespaces: ['ns'], maxReconnectDelay: 60_000 })

      const watch = 3_000
      await new Promise(resolve => setTimeout(resolve, watch))
      await expect(client.services.rendezvous.register('other')).to.eventually.be.rejectedWith(InvalidResponseError)

      // waits of 0.5 to 1 s, 1 to 2 s ... between background attempts
      const background = hand.requests.filter(({ message }) => message.register?.ns === 'ns')
      expect(background.length).to.be.within(2, 1 + Math.floor(Math.log2(watch / 500 + 1)))
    })

    it('rejects with NoResponseError when the point ends the stream without an answer', async () => {
      const hand = await startHandPoint(() => undefined)
      const client = await clientOf(hand)

      await expect(client.services.rendezvous.register('ns')).to.eventually.be.rejectedWith(NoResponseError)
      await expect(client.services.rendezvous.discover('ns')[Symbol.asyncIterator]().next()).to.eventually.be.rejectedWith(NoResponseError)
    })

    it('rejects with InvalidResponseError an answer of the wrong type', async () => {
      const hand = await startHandPoint((request) => request.type === Message.MessageType.REGISTER ? discoveredResponse([]) : registered(60n))
      const client = await clientOf(hand)

      await expect(client.services.rendezvous.register('ns')).to.eventually.be.rejectedWith(InvalidResponseError)
      await expect(client.services.rendezvous.discover('ns')[Symbol.asyncIterator]().next()).to.eventually.be.rejectedWith(InvalidResponseError)
    })

    it('caps a granted TTL at 72 h', async () => {
      const hand = await startHandPoint(() => registered(2n ** 40n))
      const client = await clientOf(hand)

      expect(await client.services.rendezvous.register('ns')).to.equal(72 * 3_600_000)
    })

    it('refuses a response over 4 MiB and one of more than 1,000 registrations, and goes on', async function () {
      this.timeout(20_000)
      const registrant = await newPrivateKey()
      const record = await signedPeerRecord(registrant, ['/memory/somewhere'])
      let answer: 'huge' | 'many' | 'fine' = 'huge'
      const hand = await startHandPoint(() => {
        if (answer === 'huge') {
          return Message.encode(discoveredResponse([{ ns: 'ns', signedPeerRecord: new Uint8Array(4 * 1024 * 1024), ttl: 60n }]))
        }

        return discoveredResponse(Array.from({ length: answer === 'many' ? 1001 : 1 }, () => ({ ns: 'ns', signedPeerRecord: record, ttl: 60n })))
      })
      const client = await clientOf(hand)
      const discoverOne = async (): Promise<unknown> => client.services.rendezvous.discover('ns')[Symbol.asyncIterator]().next()

      await expect(discoverOne()).to.eventually.be.rejected.with.property('name', 'InvalidDataLengthError')
      answer = 'many'
      await expect(discoverOne()).to.eventually.be.rejected.with.property('name', 'MaxLengthError')
      answer = 'fine'
      expect(await discoverOne()).to.have.nested.property('value.ns', 'ns')
    })

    it('yields and emits only the records that verify, from discover() and from polls', async () => {
      const [honest, forger, victim] = await Promise.all([newPrivateKey(), newPrivateKey(), newPrivateKey()])
      const valid = await signedPeerRecord(honest, ['/memory/honest'])
      const tampered = await signedPeerRecord(forger, ['/memory/forger'])
      tampered[tampered.length - 1] ^= 1
      // a record naming another peer, signed with the forger's key
      const impersonation = (await RecordEnvelope.seal(new PeerRecord({ peerId: peerIdFromPrivateKey(victim), multiaddrs: [multiaddr('/memory/victim')] }), forger)).marshal() as Uint8Array<ArrayBuffer>

      const hand = await startHandPoint(() => discoveredResponse([tampered, impersonation, new Uint8Array([1, 2, 3]), valid].map(signedPeerRecord => ({ ns: 'ns', signedPeerRecord, ttl: 60n }))))
      const client = await clientOf(hand, { discoverNamespaces: ['ns'] })
      const events = recordDiscoveries(client)

      const found = []
      for await (const peer of client.services.rendezvous.discover('ns')) {
        found.push(peer.id.toString())
      }

      const honestId = peerIdFromPrivateKey(honest)
      expect(found).to.deep.equal([honestId.toString()])
      await emits(client, { peerId: honestId } as unknown as Libp2p, events)
      expect(events.map(event => event.id.toString())).to.deep.equal([honestId.toString()])
    })
  })
})

/**
 * Abuse of a rendezvous point by misbehaving peers, over real libp2p nodes
 * (memory transport, noise, yamux): idle and dripping streams, too many
 * streams, huge length prefixes, peers at their cap, stolen records, and
 * request floods against the per-peer rate limit.
 */
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { expect } from 'aegir/chai'
import sinon from 'sinon'
import { stubInterface } from 'sinon-ts'
import * as varint from 'uint8-varint'
import { RATE_LIMIT_MAX_PEERS } from '../../src/constants.ts'
import { InvalidOptionError, rendezvousServer } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { RendezvousServer } from '../../src/server/rendezvous-server.ts'
import { createNode, newPrivateKey, openRendezvousStream, signedPeerRecord } from '../fixtures/nodes.ts'
import { WatchedStore } from '../fixtures/watched-store.ts'
import { closed, collect, concat, frame, lengthPrefixed, parseFrames } from './helpers.ts'
import type { RendezvousServerInit } from '../../src/index.ts'
import type { CounterGroup, Libp2p, Metrics, PeerId, PrivateKey, Stream } from '@libp2p/interface'
import type { SinonStub } from 'sinon'

const { MessageType, ResponseStatus } = Message

interface Peer {
  node: Libp2p
  privateKey: PrivateKey
  record: Uint8Array<ArrayBuffer>
}

/**
 * Bytes held by the process outside short-lived garbage, in Node.js; in a
 * browser there is no comparable figure
 */
function memoryInUse (): number | undefined {
  const usage = globalThis.process?.memoryUsage?.()
  return usage == null ? undefined : usage.heapUsed + usage.arrayBuffers
}

describe('abuse of a rendezvous point', () => {
  let point: Libp2p
  let nodes: Libp2p[]

  async function startPoint (init: RendezvousServerInit = {}): Promise<Libp2p> {
    point = await createNode({ services: { rendezvousServer: rendezvousServer(init) } })
    nodes.push(point)
    return point
  }

  async function newPeer (): Promise<Peer> {
    const privateKey = await newPrivateKey()
    const node = await createNode({ privateKey })
    nodes.push(node)
    return { node, privateKey, record: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
  }

  async function dial (peer: Peer): Promise<Stream> {
    return peer.node.dialProtocol(point.getMultiaddrs()[0], '/rendezvous/1.0.0')
  }

  async function request (peer: Peer, message: Message): Promise<Message> {
    const stream = await openRendezvousStream(peer.node, point)
    const response = await stream.request(message)
    await stream.stream.close()
    return response
  }

  async function register (peer: Peer, ns: string, fields: Partial<Message.Register> = {}): Promise<Message.RegisterResponse> {
    const response = await request(peer, { type: MessageType.REGISTER, register: { ns, signedPeerRecord: peer.record, ...fields } })
    expect(response.type).to.equal(MessageType.REGISTER_RESPONSE)
    return response.registerResponse ?? {}
  }

  async function discover (peer: Peer, ns: string): Promise<Message.DiscoverResponse> {
    const response = await request(peer, { type: MessageType.DISCOVER, discover: { ns } })
    expect(response.type).to.equal(MessageType.DISCOVER_RESPONSE)
    return response.discoverResponse ?? { registrations: [] }
  }

  beforeEach(() => {
    nodes = []
  })

  afterEach(async () => {
    sinon.restore()
    await Promise.all(nodes.map(async node => node.stop()))
  })

  describe('idle and slow streams', () => {
    const timeout = 300

    it('closes a stream that sends nothing, half a frame, or nothing after a request, once `timeout` passes', async () => {
      await startPoint({ timeout })
      const peer = await newPeer()

      // before the point can have started any idle timer
      const opened = Date.now()
      const silent = await dial(peer)
      const half = await dial(peer)
      const quiet = await openRendezvousStream(peer.node, point)

      half.send(concat([varint.encode(100), new Uint8Array(10)]))
      const answer = await quiet.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })
      expect(answer.discoverResponse?.status).to.equal(ResponseStatus.OK)

      for (const stream of [silent, half, quiet.stream]) {
        const { error } = await closed(stream)
        expect(error).to.have.property('name', 'StreamResetError')
      }

      // the idle timer, not something else, closed them: never before it ran
      expect(Date.now() - opened).to.be.at.least(timeout)

      // the peer's connection is still good
      expect((await discover(peer, 'ns')).status).to.equal(ResponseStatus.OK)
    })

    it('keeps a stream open while requests come within `timeout`, and closes it `timeout` after the last', async () => {
      await startPoint({ timeout })
      const peer = await newPeer()
      const stream = await openRendezvousStream(peer.node, point)
      const opened = Date.now()
      let lastSent = opened

      // a request every third of `timeout`, for more than twice `timeout`:
      // the stream outlives the first run of its idle timer, and the second
      while (lastSent - opened < 2.5 * timeout) {
        await new Promise(resolve => setTimeout(resolve, timeout / 3))
        lastSent = Date.now()
        const answer = await stream.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })
        expect(answer.discoverResponse?.status).to.equal(ResponseStatus.OK)
      }

      const { error } = await closed(stream.stream)
      expect(error).to.have.property('name', 'StreamResetError')
      // the point answered the last request after it was sent, and counts
      // `timeout` from its answer
      expect(Date.now() - lastSent).to.be.at.least(timeout)
    })

    it('answers a request the store takes longer than `timeout` over, and closes the stream `timeout` after that answer', async () => {
      const store = new WatchedStore()
      await startPoint({ timeout, store })
      const peer = await newPeer()
      const stream = await openRendezvousStream(peer.node, point)
      let openGate = (): void => {}
      store.gate = new Promise<void>(resolve => { openGate = resolve })
      const reachedStore = new Promise<void>(resolve => { store.onPut = resolve })

      const answer = stream.request({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record } })
      await reachedStore
      // the idle timer goes off twice while the store holds the write
      await new Promise(resolve => setTimeout(resolve, 2.5 * timeout))
      openGate()

      expect((await answer).registerResponse?.status).to.equal(ResponseStatus.OK)
      const answered = Date.now()
      const { error } = await closed(stream.stream)
      expect(error).to.have.property('name', 'StreamResetError')
      expect(Date.now() - answered).to.be.at.least(timeout - 1)
    })

    it('closes a stream that drips a frame a byte at a time, or sends only empty frames, as idle', async () => {
      await startPoint({ timeout })
      const peer = await newPeer()
      const dripping = await dial(peer)
      const empty = await dial(peer)

      // a frame of 8000 bytes at one byte every 20 ms would take 160 s
      dripping.send(varint.encode(8000))
      const drip = setInterval(() => {
        for (const stream of [dripping, empty]) {
          if (stream.status === 'open' && stream.writeStatus === 'writable') {
            stream.send(Uint8Array.of(stream === dripping ? 0x0a : 0x00))
          }
        }
      }, 20)

      try {
        for (const stream of [dripping, empty]) {
          const { error } = await closed(stream)
          expect(error).to.have.property('name', 'StreamResetError')
        }
      } finally {
        clearInterval(drip)
      }

      const other = await newPeer()
      expect((await register(other, 'ns')).status).to.equal(ResponseStatus.OK)
    })
  })

  describe('too many streams', () => {
    it('refuses a stream past maxInboundStreams on a connection, and takes one again once a stream closes', async () => {
      await startPoint({ maxInboundStreams: 2 })
      const peer = await newPeer()

      const first = await openRendezvousStream(peer.node, point)
      const second = await openRendezvousStream(peer.node, point)
      // both are served, and stay open
      expect((await first.request({ type: MessageType.DISCOVER, discover: {} })).discoverResponse?.status).to.equal(ResponseStatus.OK)
      expect((await second.request({ type: MessageType.DISCOVER, discover: {} })).discoverResponse?.status).to.equal(ResponseStatus.OK)

      // the third is reset by the point: while it is being negotiated (the
      // dial fails) or right after (the stream is reset unanswered)
      const third = await openRendezvousStream(peer.node, point).catch((err: Error) => err)
      let reset: Error | undefined

      if (third instanceof Error) {
        reset = third
      } else {
        const { bytes, done } = collect(third.stream)

        if (third.stream.writeStatus === 'writable') {
          third.stream.send(frame({ type: MessageType.DISCOVER, discover: {} }))
        }

        reset = (await done).error
        expect(bytes.byteLength).to.equal(0)
      }

      // not any failure: the point's refusal
      expect(reset).to.have.property('name', 'StreamResetError')

      // another peer has connections and streams of its own
      expect((await register(await newPeer(), 'ns')).status).to.equal(ResponseStatus.OK)

      // a stream that closes frees its slot
      await first.stream.close()
      await closed(first.stream)
      expect((await discover(peer, 'ns')).registrations).to.have.lengthOf(1)

      await second.stream.close()
    })
  })

  describe('oversized frames', () => {
    it('resets streams announcing huge messages without allocating them', async function () {
      await startPoint()
      const peer = await newPeer()
      const before = memoryInUse()

      // 14 streams (under the 16 a connection may open), each announcing a
      // message of 1 GiB to 8 TiB and sending 64 KiB of it
      const lengths = Array.from({ length: 14 }, (_, i) => 2 ** (30 + i))
      const outcomes = await Promise.all(lengths.map(async length => {
        const stream = await dial(peer)
        const { bytes, done } = collect(stream)
        stream.send(varint.encode(length))

        if (stream.status === 'open' && stream.writeStatus === 'writable') {
          stream.send(new Uint8Array(64 * 1024))
        }

        const { error } = await done
        return { error, received: bytes.byteLength }
      }))

      for (const { error, received } of outcomes) {
        expect(error).to.have.property('name', 'StreamResetError')
        expect(received).to.equal(0)
      }

      const after = memoryInUse()

      if (before != null && after != null) {
        // eslint-disable-next-line no-console
        console.info(`      14 streams announcing 1 GiB to 8 TiB: ${((after - before) / 1024 / 1024).toFixed(1)} MB of memory gained`)
        // a point that allocated what was announced would hold gigabytes
        expect(after - before, 'bytes of memory gained').to.be.below(64 * 1024 * 1024)
      }

      expect((await register(peer, 'ns')).status).to.equal(ResponseStatus.OK)
    })

    it('answers a request of exactly maxMessageSize and resets one a byte longer', async () => {
      const maxMessageSize = 4096
      await startPoint({ maxMessageSize })
      const peer = await newPeer()
      const discoverOf = (size: number): Uint8Array => {
        // a cookie that makes the encoded message exactly `size` bytes
        for (let cookie = size - 10; cookie > 0; cookie--) {
          const bytes = Message.encode({ type: MessageType.DISCOVER, discover: { ns: 'ns', cookie: new Uint8Array(cookie) } })

          if (bytes.byteLength === size) {
            return bytes
          }
        }

        throw new Error(`no DISCOVER of ${size} bytes`)
      }

      const fits = await dial(peer)
      const fitsReply = collect(fits)
      fits.send(lengthPrefixed(discoverOf(maxMessageSize)))
      await fits.close()
      expect((await fitsReply.done).error).to.be.undefined()
      const { messages } = parseFrames(fitsReply.bytes)
      expect(messages).to.have.lengthOf(1)
      // answered: the zero cookie is refused, as a forged one should be
      expect(messages[0].discoverResponse?.status).to.equal(ResponseStatus.E_INVALID_COOKIE)

      const tooLong = await dial(peer)
      const tooLongReply = collect(tooLong)
      tooLong.send(lengthPrefixed(discoverOf(maxMessageSize + 1)))
      expect((await tooLongReply.done).error).to.have.property('name', 'StreamResetError')
      expect(tooLongReply.bytes.byteLength).to.equal(0)
    })

    it('resets a stream whose length prefix is padded rather than minimal', async () => {
      await startPoint()
      const peer = await newPeer()
      const body = Message.encode({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })

      for (const chunks of [[Uint8Array.of(body.byteLength | 0x80, 0x00, ...body)], [Uint8Array.of(body.byteLength | 0x80), Uint8Array.of(0x00, ...body)]]) {
        const stream = await dial(peer)
        const reply = collect(stream)
        chunks.forEach(chunk => stream.send(chunk))
        expect((await reply.done).error).to.have.property('name', 'StreamResetError')
        expect(reply.bytes.byteLength).to.equal(0)
      }
    })

    it('answers several requests that arrive in one chunk, even past maxMessageSize in all', async () => {
      const maxMessageSize = 4096
      await startPoint({ maxMessageSize })
      const peer = await newPeer()
      const big = frame({ type: MessageType.DISCOVER, discover: { ns: 'ns', cookie: new Uint8Array(3000) } })
      const stream = await dial(peer)
      const reply = collect(stream)

      stream.send(concat([big, big, big, frame({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })]))
      await stream.close()

      expect((await reply.done).error).to.be.undefined()
      expect(parseFrames(reply.bytes).messages.map(message => message.discoverResponse?.status)).to.deep.equal([
        ResponseStatus.E_INVALID_COOKIE, ResponseStatus.E_INVALID_COOKIE, ResponseStatus.E_INVALID_COOKIE, ResponseStatus.OK
      ])
    })
  })

  describe('registration caps and authorization', () => {
    it('lets a peer at its cap refresh, replace its record and move between namespaces, but not add one', async () => {
      await startPoint({ maxRegistrationsPerPeer: 3 })
      const peer = await newPeer()
      const observer = await newPeer()

      for (const ns of ['a', 'b', 'c']) {
        expect((await register(peer, ns, { ttl: 120n })).status).to.equal(ResponseStatus.OK)
      }

      const refused = await register(peer, 'd')
      expect(refused.status).to.equal(ResponseStatus.E_NOT_AUTHORIZED)
      expect(refused.statusText).to.include('3 namespaces')

      // a refresh at the cap, with a longer TTL and a newer record
      const newer = await signedPeerRecord(peer.privateKey, ['/ip4/127.0.0.1/tcp/4001'])
      expect(await register(peer, 'a', { ttl: 3600n, signedPeerRecord: newer })).to.deep.equal({ status: ResponseStatus.OK, statusText: '', ttl: 3600n })
      const found = await discover(observer, 'a')
      expect(found.registrations).to.have.lengthOf(1)
      expect(found.registrations[0].signedPeerRecord).to.equalBytes(newer)
      expect(Number(found.registrations[0].ttl)).to.be.greaterThan(3500)

      // leaving a namespace frees a slot
      const stream = await openRendezvousStream(peer.node, point)
      await stream.write({ type: MessageType.UNREGISTER, unregister: { ns: 'c' } })
      expect((await stream.request({ type: MessageType.REGISTER, register: { ns: 'd', signedPeerRecord: peer.record } })).registerResponse?.status).to.equal(ResponseStatus.OK)
      await stream.stream.close()
    })

    it('refuses records of another peer, replayed or forged, and never lets one peer remove another', async () => {
      await startPoint()
      const victim = await newPeer()
      const attacker = await newPeer()
      const observer = await newPeer()
      expect((await register(victim, 'ns')).status).to.equal(ResponseStatus.OK)

      // the victim's own record, replayed
      const replayed = await register(attacker, 'ns', { signedPeerRecord: victim.record })
      expect(replayed.status).to.equal(ResponseStatus.E_NOT_AUTHORIZED)
      expect(replayed.statusText).to.include('another peer')

      // a record naming the victim with the attacker's addresses, sealed with
      // the attacker's key
      const forgedRecord = new PeerRecord({ peerId: peerIdFromPrivateKey(victim.privateKey), multiaddrs: attacker.node.getMultiaddrs() })
      const forged = (await RecordEnvelope.seal(forgedRecord, attacker.privateKey)).marshal() as Uint8Array<ArrayBuffer>
      const forgedResponse = await register(attacker, 'ns', { signedPeerRecord: forged })
      expect(forgedResponse.status).to.equal(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
      expect(forgedResponse.statusText).to.include('another peer')

      // an UNREGISTER only ever removes the sender's own registration
      const stream = await openRendezvousStream(attacker.node, point)
      await stream.write({ type: MessageType.UNREGISTER, unregister: { ns: 'ns' } })
      await stream.stream.close()
      await closed(stream.stream)

      const found = await discover(observer, 'ns')
      expect(found.registrations).to.have.lengthOf(1)
      expect(found.registrations[0].signedPeerRecord).to.equalBytes(victim.record)
    })
  })

  describe('request rate limit', () => {
    it('answers a flooding peer with E_UNAVAILABLE and drops its UNREGISTER, while another peer is served in the same window', async () => {
      const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] })
      const maxRequestsPerPeer = 10
      const rateLimitWindow = 60_000
      const responses = new Map<string, number>()
      const metrics = stubInterface<Metrics>({
        registerCounterGroup: ((name: string) => {
          const group = stubInterface<CounterGroup>()

          if (name === 'libp2p_rendezvous_server_responses_total') {
            (group.increment as SinonStub).callsFake((labels: Record<string, boolean>) => {
              for (const label of Object.keys(labels)) {
                responses.set(label, (responses.get(label) ?? 0) + 1)
              }
            })
          }

          return group
        }) as any
      })

      point = await createNode()
      nodes.push(point)
      const components = (point as any).components
      const server = new RendezvousServer({ registrar: components.registrar, logger: components.logger, metrics }, { maxRequestsPerPeer, rateLimitWindow })
      await server.start()

      const flooder = await newPeer()
      const other = await newPeer()

      // 1 request
      expect((await register(flooder, 'ns')).status).to.equal(ResponseStatus.OK)

      // 30 more, back to back on one stream, and 5 on a second stream: the
      // budget is the peer's, not the stream's
      const flood = await openRendezvousStream(flooder.node, point)
      flood.stream.send(concat(Array.from({ length: 30 }, () => frame({ type: MessageType.DISCOVER, discover: { ns: 'ns' } }))))
      const statuses: Array<Message.ResponseStatus | undefined> = []
      let refusal = ''

      for (let i = 0; i < 30; i++) {
        const response = (await flood.read()).discoverResponse
        statuses.push(response?.status)

        if (response?.status === ResponseStatus.E_UNAVAILABLE) {
          refusal = response.statusText ?? ''
        }
      }

      const second = await openRendezvousStream(flooder.node, point)

      for (let i = 0; i < 5; i++) {
        statuses.push((await second.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })).discoverResponse?.status)
      }

      expect(statuses.filter(status => status === ResponseStatus.OK)).to.have.lengthOf(maxRequestsPerPeer - 1)
      expect(statuses.slice(maxRequestsPerPeer - 1).every(status => status === ResponseStatus.E_UNAVAILABLE)).to.be.true()
      expect(refusal).to.match(/^rate limit exceeded: more than 10 requests in 60000 ms, retry in \d+ ms$/)

      // over the limit, an UNREGISTER is dropped: it has no response to refuse with
      await second.write({ type: MessageType.UNREGISTER, unregister: { ns: 'ns' } })
      expect((await second.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })).discoverResponse?.status).to.equal(ResponseStatus.E_UNAVAILABLE)

      // in the same window, the other peer is served, and still sees the
      // flooder registered
      expect((await register(other, 'ns')).status).to.equal(ResponseStatus.OK)
      expect((await discover(other, 'ns')).registrations).to.have.lengthOf(2)

      // the refusals are counted by status like any response
      expect(responses.get(ResponseStatus.E_UNAVAILABLE)).to.equal(35 - (maxRequestsPerPeer - 1) + 1)

      // a new window, a new budget: the flooder's UNREGISTER now works
      clock.tick(rateLimitWindow)
      expect((await second.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })).discoverResponse?.status).to.equal(ResponseStatus.OK)
      await second.write({ type: MessageType.UNREGISTER, unregister: { ns: 'ns' } })
      expect((await second.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })).discoverResponse?.registrations).to.have.lengthOf(1)

      await flood.stream.close()
      await second.stream.close()
      await server.stop()
    })

    it('keeps counts for a bounded number of peers, and none after stop', async () => {
      await startPoint()
      const server = (point as Libp2p<{ rendezvousServer: RendezvousServer }>).services.rendezvousServer
      const internals = server as unknown as { overRateLimit(peer: PeerId): unknown, rateLimiter: { memoryStorage: { storage: Map<string, unknown> } } }

      for (let i = 0; i < RATE_LIMIT_MAX_PEERS * 2; i++) {
        internals.overRateLimit({ toString: () => `peer-${i}` } as unknown as PeerId)
      }

      expect(internals.rateLimiter.memoryStorage.storage.size).to.equal(RATE_LIMIT_MAX_PEERS)
      // the newest are kept
      expect(internals.rateLimiter.memoryStorage.storage.has(`peer-${RATE_LIMIT_MAX_PEERS * 2 - 1}`)).to.be.true()

      await server.stop()
      expect(internals.rateLimiter.memoryStorage.storage.size).to.equal(0)
    })

    for (const [init, option] of [
      [{ maxRequestsPerPeer: 0 }, 'maxRequestsPerPeer'],
      [{ maxRequestsPerPeer: 2.5 }, 'maxRequestsPerPeer'],
      [{ rateLimitWindow: -1 }, 'rateLimitWindow'],
      [{ rateLimitWindow: Infinity }, 'rateLimitWindow'],
      // longer than a timer can wait
      [{ rateLimitWindow: 2 ** 31 }, 'rateLimitWindow']
    ] as Array<[RendezvousServerInit, string]>) {
      it(`rejects ${Object.keys(init)[0]} = ${String(Object.values(init)[0])} naming it`, () => {
        expect(() => rendezvousServer(init)).to.throw(InvalidOptionError).with.property('option', option)
      })
    }
  })
})

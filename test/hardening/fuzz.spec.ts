/**
 * Property-based fuzzing of the codec and of the rendezvous point's stream
 * handler, over real libp2p nodes (memory transport, noise, yamux).
 *
 * FUZZ_RUNS sets the number of cases of every property (defaults below keep
 * the whole file to a few seconds); FUZZ_SEED replays a failing run with the
 * seed fast-check printed. `scripts/fuzz-long.sh` runs 100 000 cases each.
 */
import { expect } from 'aegir/chai'
import fc from 'fast-check'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { DEFAULT_MAX_REQUEST_SIZE, PROTOCOL } from '../../src/constants.ts'
import { rendezvous, rendezvousServer } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { createNode, newPrivateKey, openRendezvousStream, signedPeerRecord } from '../fixtures/nodes.ts'
import { collect, concat, envNumber, eventually, frame, lengthPrefixed, parseFrames, trackUnhandled, within } from './helpers.ts'
import type { Rendezvous, RendezvousServer } from '../../src/index.ts'
import type { Libp2p, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

const { MessageType, ResponseStatus } = Message

const FUZZ_RUNS = envNumber('FUZZ_RUNS', 0)
const FUZZ_SEED = globalThis.process?.env?.FUZZ_SEED
const CODEC_RUNS = FUZZ_RUNS > 0 ? FUZZ_RUNS : 3000
const SERVER_RUNS = FUZZ_RUNS > 0 ? FUZZ_RUNS : 3000

function params (numRuns: number, timeLimit?: number): fc.Parameters<unknown> {
  return {
    numRuns,
    // shrinking a counterexample over the network can take long: stop it
    // before the test's own timeout, keeping what was shrunk so far
    ...(timeLimit != null ? { plugins: [fc.interruptAfterTimeLimit(timeLimit)] } : {}),
    ...(FUZZ_SEED != null && FUZZ_SEED !== '' ? { seed: Number(FUZZ_SEED) } : {})
  }
}

/**
 * Timeout of a property: generous, the runs are what bounds it
 */
function budget (runs: number, msPerRun: number): number {
  return Math.max(60_000, runs * msPerRun)
}

const U64_MAX = 2n ** 64n - 1n

/**
 * protons-runtime 7.1.2 (and 8.0.1) writes a uint64 in [2^31, 2^32) wrongly:
 * LongBits keeps its low word as a signed int32 (`lo | 0`), so
 * writeVarint64() writes one byte, the value's low byte, where it reserved
 * five, and leaves the other four as the writer's pool had them. The message
 * then decodes to a wrong value (0 for 2^31, written as 0x00 then four
 * leftover bytes) or, depending on the leftover bytes, not at all. It reads
 * such values fine, and this package never writes one (TTLs are at most
 * 259 200 s, limits at most 1000), so the properties below leave that range
 * to the test that documents it. Reported upstream as written up in
 * docs/upstream/protons-runtime-uint64.md.
 */
function protonsWritesWrongly (value: bigint | undefined): boolean {
  return value != null && value >= 2n ** 31n && value < 2n ** 32n
}

function hasUint64ProtonsWritesWrongly (message: Message): boolean {
  return [
    message.register?.ttl,
    message.registerResponse?.ttl,
    message.discover?.limit,
    ...(message.discoverResponse?.registrations ?? []).map(registration => registration.ttl)
  ].some(protonsWritesWrongly)
}

const u64 = fc.oneof(
  fc.constantFrom(0n, 1n, 59n, 60n, 7200n, 259_200n, 259_201n, 2n ** 31n - 1n, 2n ** 32n, U64_MAX),
  fc.bigInt({ min: 0n, max: U64_MAX })
).filter(value => !protonsWritesWrongly(value))
const text = fc.oneof(
  fc.constantFrom('', 'ns', 'a', 'fuzz'),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ minLength: 250, maxLength: 260 })
)
const bytes = fc.uint8Array({ maxLength: 64 })
// the enums' namespaces also carry a `codec` function
const STATUSES = Object.values(ResponseStatus).filter((value): value is Message.ResponseStatus => typeof value === 'string')
const TYPES = Object.values(MessageType).filter((value): value is Message.MessageType => typeof value === 'string')
const status = fc.constantFrom(...STATUSES)
const messageType = fc.constantFrom(...TYPES)

/**
 * Any message the schema can carry, with absent fields left out, as the
 * decoder returns them
 */
const anyMessage: fc.Arbitrary<Message> = fc.record({
  type: messageType,
  register: fc.record({ ns: text, signedPeerRecord: bytes, ttl: u64 }, { requiredKeys: [] }),
  registerResponse: fc.record({ status, statusText: text, ttl: u64 }, { requiredKeys: [] }),
  unregister: fc.record({ ns: text }, { requiredKeys: [] }),
  discover: fc.record({ ns: text, limit: u64, cookie: bytes }, { requiredKeys: [] }),
  discoverResponse: fc.record({
    registrations: fc.array(fc.record({ ns: text, signedPeerRecord: bytes, ttl: u64 }, { requiredKeys: [] }), { maxLength: 4 }),
    cookie: bytes,
    status,
    statusText: text
  }, { requiredKeys: ['registrations'] })
}, { requiredKeys: [] }) as fc.Arbitrary<Message>

type Mutation =
  | { op: 'flip', at: number, bit: number }
  | { op: 'set', at: number, value: number }
  | { op: 'delete', at: number, length: number }
  | { op: 'insert', at: number, bytes: Uint8Array }
  | { op: 'truncate', at: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.nat({ max: 7 }) }),
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.constantFrom(0x00, 0x7f, 0x80, 0xff, 0x08, 0x12) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 8 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() })
)

function mutate (input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let out = input.slice()

  for (const m of mutations) {
    const at = out.byteLength === 0 ? 0 : m.at % (out.byteLength + (m.op === 'insert' ? 1 : 0))

    switch (m.op) {
      case 'flip':
        if (out.byteLength > 0) { out[at] ^= 1 << m.bit }
        break
      case 'set':
        if (out.byteLength > 0) { out[at] = m.value }
        break
      case 'delete':
        out = concat([out.subarray(0, at), out.subarray(at + m.length)])
        break
      case 'insert':
        out = concat([out.subarray(0, at), m.bytes, out.subarray(at)])
        break
      default:
        out = out.slice(0, at)
        break
    }
  }

  return out
}

/**
 * Decodes, and when that throws, requires an `Error`
 */
function decodeOrError (input: Uint8Array | Uint8ArrayList): Message | Error {
  try {
    return Message.decode(input)
  } catch (err) {
    expect(err).to.be.an.instanceOf(Error)
    return err as Error
  }
}

function splitList (input: Uint8Array, cuts: number[]): Uint8ArrayList {
  const list = new Uint8ArrayList()
  const points = [...new Set(cuts.map(cut => cut % (input.byteLength + 1)))].sort((a, b) => a - b)
  let last = 0

  for (const point of [...points, input.byteLength]) {
    list.append(input.subarray(last, point))
    last = point
  }

  return list
}

describe('fuzz: codec', function () {
  this.timeout(budget(CODEC_RUNS, 5))

  it(`decodes random bytes to a message or an Error, the same whole or in pieces (${CODEC_RUNS} cases)`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), fc.array(fc.nat(), { maxLength: 4 }), (input, cuts) => {
      const whole = decodeOrError(input)
      const pieces = decodeOrError(splitList(input, cuts))

      if (whole instanceof Error) {
        expect(pieces).to.be.an.instanceOf(Error)
      } else {
        expect(pieces).to.deep.equal(whole)
      }
    }), params(CODEC_RUNS))
  })

  it(`round-trips every valid message (${CODEC_RUNS} cases)`, () => {
    fc.assert(fc.property(anyMessage, (message) => {
      expect(Message.decode(Message.encode(message))).to.deep.equal(message)
    }), params(CODEC_RUNS))
  })

  it(`decodes mutated valid messages to a message that re-encodes, or an Error (${CODEC_RUNS} cases)`, () => {
    fc.assert(fc.property(anyMessage, fc.array(mutation, { minLength: 1, maxLength: 4 }), (message, mutations) => {
      const decoded = decodeOrError(mutate(Message.encode(message), mutations))

      if (!(decoded instanceof Error) && !hasUint64ProtonsWritesWrongly(decoded)) {
        // whatever decodes is a message the codec can write and read back.
        // Invalid UTF-8 decodes to lone surrogates, which encode as U+FFFD,
        // so the first re-encoding may normalise strings; after it, stable.
        const normalised = Message.decode(Message.encode(decoded))
        expect(Message.decode(Message.encode(normalised))).to.deep.equal(normalised)
      }
    }), params(CODEC_RUNS))
  })

  // Known issue in protons-runtime 7.1.2, see protonsWritesWrongly() and
  // docs/upstream/protons-runtime-uint64.md. Unskip once a release encodes
  // these values right.
  it.skip('round-trips uint64 values in [2^31, 2^32)', () => {
    for (const ttl of [2n ** 31n, 3_000_000_000n, 2n ** 32n - 1n]) {
      const message = { type: MessageType.REGISTER, register: { ns: 'a', ttl } }
      expect(Message.decode(Message.encode(message))).to.deep.equal(message)
    }
  })

  it(`decodes every truncation of a valid message at a field boundary to its first fields, and refuses every other (${CODEC_RUNS} cases)`, () => {
    fc.assert(fc.property(anyMessage, fc.nat(), (message, cut) => {
      const encoded = Message.encode(message)
      const at = encoded.byteLength === 0 ? 0 : cut % encoded.byteLength
      const boundaries = fieldBoundaries(encoded)
      const decoded = decodeOrError(encoded.subarray(0, at))

      if (boundaries.includes(at)) {
        // protons writes the fields in schema order: the first ones survive
        const present = MESSAGE_FIELDS.filter(field => message[field] != null)
        const expected = Object.fromEntries(present.slice(0, boundaries.indexOf(at)).map(field => [field, message[field]]))
        expect(decoded).to.deep.equal(expected)
      } else {
        expect(decoded).to.be.an.instanceOf(Error)
      }
    }), params(CODEC_RUNS))
  })
})

/**
 * The fields of `Message` in the order of their numbers, as written
 */
const MESSAGE_FIELDS = ['type', 'register', 'registerResponse', 'unregister', 'discover', 'discoverResponse'] as const

/**
 * Where the top-level fields of an encoded message end, 0 first: a varint
 * (wire type 0) or a length-delimited field (wire type 2) each
 */
function fieldBoundaries (encoded: Uint8Array): number[] {
  const boundaries = [0]
  let offset = 0

  while (offset < encoded.byteLength) {
    const tag = varint.decode(encoded, offset)
    offset += varint.encodingLength(tag)
    const value = varint.decode(encoded, offset)
    offset += varint.encodingLength(value) + ((tag & 7) === 2 ? value : 0)
    boundaries.push(offset)
  }

  return boundaries
}

interface Attacker {
  node: Libp2p
  record: Uint8Array<ArrayBuffer>
}

/**
 * What the point must do with `input` sent whole and followed by a clean
 * close: the response types in order, and whether it resets the stream.
 * Frames are unsigned-varint length-prefixed; a prefix over the size limit,
 * a frame that does not decode, or a message that is not a request (one
 * without a type is a REGISTER) resets
 * the stream, as does a length prefix that is not minimally encoded; an
 * empty frame is skipped; an incomplete last frame is dropped when the
 * remote closes.
 */
function expectedOutcome (input: Uint8Array, maxMessageSize: number): { responses: Message.MessageType[], reset: boolean } {
  const responses: Message.MessageType[] = []
  let offset = 0

  while (offset < input.byteLength) {
    const remaining = input.byteLength - offset
    let length: number | undefined
    let prefix = 0

    for (let i = 0, value = 0; i < remaining && i < 9; i++) {
      value += (input[offset + i] & 0x7f) * 2 ** (7 * i)

      if (input[offset + i] < 0x80) {
        length = value
        prefix = i + 1
        break
      }
    }

    if (length == null) {
      // an unterminated prefix of two bytes or more can only be too large
      return { responses, reset: remaining >= varint.encodingLength(maxMessageSize) }
    }

    // too large, or not minimally encoded
    if (length > maxMessageSize || prefix !== varint.encodingLength(length)) {
      return { responses, reset: true }
    }

    if (remaining < prefix + length) {
      return { responses, reset: false }
    }

    const body = input.subarray(offset + prefix, offset + prefix + length)
    offset += prefix + length

    if (length === 0) {
      continue
    }

    let message: Message

    try {
      message = Message.decode(body)
    } catch {
      return { responses, reset: true }
    }

    // an absent type reads as REGISTER, its value 0, as in the spec's proto2
    // schema and as proto3 encoders leave it out
    const type = message.type ?? MessageType.REGISTER

    if (type === MessageType.REGISTER) {
      responses.push(MessageType.REGISTER_RESPONSE)
    } else if (type === MessageType.DISCOVER) {
      responses.push(MessageType.DISCOVER_RESPONSE)
    } else if (type !== MessageType.UNREGISTER) {
      return { responses, reset: true }
    }
  }

  return { responses, reset: false }
}

type Chunking = 'whole' | 'bytewise' | number[]
type Ending = 'close' | 'reset' | 'reset-at-once'

function chunksOf (input: Uint8Array, chunking: Chunking): Uint8Array[] {
  if (chunking === 'whole') {
    return input.byteLength === 0 ? [] : [input]
  }

  if (chunking === 'bytewise') {
    return [...input].map(byte => Uint8Array.of(byte))
  }

  return [...splitList(input, chunking)].filter(chunk => chunk.byteLength > 0)
}

describe('fuzz: rendezvous point stream handler', function () {
  this.timeout(budget(SERVER_RUNS, 40))

  const maxMessageSize = DEFAULT_MAX_REQUEST_SIZE
  let point: Libp2p<{ rendezvousServer: RendezvousServer }>
  let pointAddress: Multiaddr
  let attackers: Attacker[]
  let nodes: Libp2p[]

  before(async () => {
    point = await createNode({
      services: {
        rendezvousServer: rendezvousServer({
          // the fuzz is about parsing and answering, not about the rate limit
          maxRequestsPerPeer: 1_000_000_000,
          maxRegistrationsPerPeer: 50,
          maxDiscoverLimit: 20,
          maxInboundStreams: 64
        })
      }
    })
    pointAddress = point.getMultiaddrs()[0]
    nodes = []
    attackers = []

    for (let i = 0; i < 3; i++) {
      const privateKey = await newPrivateKey()
      const node = await createNode({ privateKey })
      nodes.push(node)
      attackers.push({ node, record: await signedPeerRecord(privateKey, node.getMultiaddrs()) })
    }
  })

  after(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
    await point?.stop()
  })

  it(`answers every request frame or closes or resets the stream, whatever the bytes and stream behaviour (${SERVER_RUNS} cases), then serves a well-behaved peer`, async () => {
    const unhandled = trackUnhandled()
    const stats = { cases: 0, closed: 0, reset: 0, served: 0, responses: new Map<string, number>() }
    const started = Date.now()

    const record = fc.oneof(
      { weight: 4, arbitrary: fc.constant('own' as const) },
      { weight: 1, arbitrary: fc.constant('other' as const) },
      { weight: 1, arbitrary: fc.constant('absent' as const) },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) }
    )
    // mostly acceptable values, so that requests get past validation
    const ns = fc.oneof({ weight: 3, arbitrary: fc.constantFrom('ns', 'a', 'fuzz', 'é'.repeat(127)) }, { weight: 1, arbitrary: text })
    const ttl = fc.oneof({ weight: 3, arbitrary: fc.constantFrom(60n, 7200n, 259_200n) }, { weight: 1, arbitrary: u64 })
    const register = fc.record({ ns, record, ttl }, { requiredKeys: ['record'] })
    const discover = fc.record({
      ns,
      limit: fc.oneof(fc.bigInt({ min: 1n, max: 30n }), u64),
      cookie: fc.oneof(bytes, fc.uint8Array({ minLength: 2000, maxLength: 8000 }))
    }, { requiredKeys: [] })
    const unregister = fc.record({ ns }, { requiredKeys: [] })

    type Request =
      | { kind: 'register', fields: { ns?: string, record: 'own' | 'other' | 'absent' | Uint8Array, ttl?: bigint } }
      | { kind: 'discover', fields: Message.Discover }
      | { kind: 'unregister', fields: Message.Unregister }

    const request: fc.Arbitrary<Request> = fc.oneof(
      register.map(fields => ({ kind: 'register' as const, fields })),
      discover.map(fields => ({ kind: 'discover' as const, fields })),
      unregister.map(fields => ({ kind: 'unregister' as const, fields }))
    )

    const toFrame = (req: Request, attacker: number): Uint8Array => {
      if (req.kind === 'discover') {
        return frame({ type: MessageType.DISCOVER, discover: req.fields })
      }

      if (req.kind === 'unregister') {
        return frame({ type: MessageType.UNREGISTER, unregister: req.fields })
      }

      const { record: choice, ...rest } = req.fields
      const records: Record<string, Uint8Array | undefined> = {
        own: attackers[attacker].record,
        other: attackers[(attacker + 1) % attackers.length].record,
        absent: undefined
      }
      const signedPeerRecord = typeof choice === 'string' ? records[choice] : choice

      return frame({ type: MessageType.REGISTER, register: { ...rest, signedPeerRecord: signedPeerRecord as Uint8Array<ArrayBuffer> | undefined } })
    }

    type Item =
      | { kind: 'valid', request: Request }
      | { kind: 'mutated', request: Request, mutations: Mutation[] }
      | { kind: 'truncated', request: Request, cut: number }
      | { kind: 'bytes', bytes: Uint8Array }

    const item: fc.Arbitrary<Item> = fc.oneof(
      { weight: 4, arbitrary: request.map(request => ({ kind: 'valid' as const, request })) },
      { weight: 4, arbitrary: fc.record({ kind: fc.constant('mutated' as const), request, mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('truncated' as const), request, cut: fc.nat() }) },
      // a random body behind a correct prefix
      { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map(body => ({ kind: 'bytes' as const, bytes: lengthPrefixed(body) })) },
      // raw random bytes
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map(bytes => ({ kind: 'bytes' as const, bytes })) },
      // a length prefix over the limit, up to 2^48
      { weight: 1, arbitrary: fc.tuple(fc.integer({ min: maxMessageSize + 1, max: 2 ** 48 }), fc.uint8Array({ maxLength: 64 })).map(([length, tail]) => ({ kind: 'bytes' as const, bytes: concat([varint.encode(length), tail]) })) },
      // a frame just over the limit, sent in full
      { weight: 1, arbitrary: fc.integer({ min: maxMessageSize + 1, max: maxMessageSize + 64 }).map(length => ({ kind: 'bytes' as const, bytes: lengthPrefixed(new Uint8Array(length).fill(0x0a)) })) },
      // a prefix that never ends
      { weight: 1, arbitrary: fc.uint8Array({ minLength: 2, maxLength: 12 }).map(prefix => ({ kind: 'bytes' as const, bytes: prefix.map(byte => byte | 0x80) })) },
      // an empty frame
      { weight: 1, arbitrary: fc.constant({ kind: 'bytes' as const, bytes: Uint8Array.of(0) }) }
    )

    const toBytes = (it: Item, attacker: number): Uint8Array => {
      switch (it.kind) {
        case 'valid': return toFrame(it.request, attacker)
        case 'mutated': return mutate(toFrame(it.request, attacker), it.mutations)
        case 'truncated': {
          const whole = toFrame(it.request, attacker)
          return whole.subarray(0, it.cut % whole.byteLength)
        }
        default: return it.bytes
      }
    }

    const chunking: fc.Arbitrary<Chunking> = fc.oneof(
      { weight: 3, arbitrary: fc.constant('whole' as const) },
      { weight: 1, arbitrary: fc.constant('bytewise' as const) },
      { weight: 3, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 6 }) }
    )
    const ending: fc.Arbitrary<Ending> = fc.oneof(
      { weight: 6, arbitrary: fc.constant('close' as const) },
      { weight: 2, arbitrary: fc.constant('reset' as const) },
      { weight: 1, arbitrary: fc.constant('reset-at-once' as const) }
    )

    const scenario = fc.record({
      attacker: fc.nat({ max: attackers.length - 1 }),
      items: fc.oneof(
        // well-formed requests only, on one stream as go clients send them
        fc.array(request.map(request => ({ kind: 'valid' as const, request })), { minLength: 1, maxLength: 4 }),
        fc.array(item, { maxLength: 4 })
      ),
      chunking,
      ending
    })

    await fc.assert(fc.asyncProperty(scenario, async ({ attacker, items, chunking, ending }) => {
      const input = concat((items as Item[]).map(it => toBytes(it, attacker)))
      const chunks = chunksOf(input, chunking === 'bytewise' && input.byteLength > 256 ? 'whole' : chunking)
      const stream: Stream = await attackers[attacker].node.dialProtocol(pointAddress, PROTOCOL)
      const { bytes: received, done } = collect(stream)

      if (ending === 'reset-at-once') {
        stream.abort(new Error('fuzz: reset at once'))
      } else {
        for (const chunk of chunks) {
          if (stream.status !== 'open' || stream.writeStatus !== 'writable') {
            break
          }

          if (!stream.send(chunk)) {
            await stream.onDrain().catch(() => {})
          }
        }

        if (ending === 'reset') {
          stream.abort(new Error('fuzz: reset'))
        } else {
          await stream.close().catch(() => {})
        }
      }

      // liveness: the point never leaves a stream hanging
      const end = await within(done, 15_000, 'the stream')
      const { messages, trailing } = parseFrames(received)
      const expected = expectedOutcome(input, maxMessageSize)

      stats.cases++
      stats[end.error == null ? 'closed' : 'reset']++

      for (const message of messages) {
        const response = message.type === MessageType.REGISTER_RESPONSE ? message.registerResponse : message.discoverResponse
        expect(message.type).to.be.oneOf([MessageType.REGISTER_RESPONSE, MessageType.DISCOVER_RESPONSE])
        expect(response, 'the response body').to.be.ok()
        expect(response?.status).to.be.oneOf(STATUSES)
        expect(response?.status, response?.statusText).to.not.equal(ResponseStatus.E_INTERNAL_ERROR)
        const key = `${message.type} ${response?.status}`
        stats.responses.set(key, (stats.responses.get(key) ?? 0) + 1)
      }

      // responses come whole, in the order of the requests
      expect(messages.map(message => message.type)).to.deep.equal(expected.responses.slice(0, messages.length))

      if (end.error == null) {
        expect(trailing, 'bytes of a partial response').to.equal(0)
      }

      if (ending === 'close') {
        if (expected.reset) {
          expect(end.error, 'the point resets the stream').to.be.ok()
        } else {
          expect(end.error, 'the point closes the stream cleanly').to.be.undefined()
          expect(messages.map(message => message.type)).to.deep.equal(expected.responses)
          stats.served++
        }
      }
    }), params(SERVER_RUNS, budget(SERVER_RUNS, 40) - 15_000))

    unhandled.uninstall()
    expect(unhandled.errors).to.be.empty()

    // the point forgets every fuzzed stream
    const server = point.services.rendezvousServer as unknown as { streams: Set<Stream> }
    await eventually(() => server.streams.size === 0)

    // a well-behaved peer is served correctly after the fuzzing: it registers
    // with the client, another peer discovers it, and so do the attackers
    const good = await createNode<{ rendezvous: Rendezvous }>({
      services: { rendezvous: rendezvous({ rendezvousPoints: [pointAddress] }) }
    })
    const seeker = await createNode<{ rendezvous: Rendezvous }>({
      services: { rendezvous: rendezvous({ rendezvousPoints: [pointAddress] }) }
    })
    nodes.push(good, seeker)

    expect(await good.services.rendezvous.register('fuzz-good', { ttl: 3_600_000 })).to.equal(3_600_000)

    const found = []
    for await (const peer of seeker.services.rendezvous.discover('fuzz-good')) {
      found.push(peer.id.toString())
    }
    expect(found).to.deep.equal([good.peerId.toString()])

    for (const attacker of attackers) {
      const raw = await openRendezvousStream(attacker.node, point)
      const response = await raw.request({ type: MessageType.DISCOVER, discover: { ns: 'fuzz-good' } })
      await raw.stream.close()
      expect(response.discoverResponse?.status).to.equal(ResponseStatus.OK)
      expect(response.discoverResponse?.registrations).to.have.lengthOf(1)
    }

    const seconds = (Date.now() - started) / 1000
    // eslint-disable-next-line no-console
    console.info(`      fuzzed ${stats.cases} streams in ${seconds.toFixed(1)} s: ${stats.closed} closed, ${stats.reset} reset, ${stats.served} served exactly as the model says; responses ${JSON.stringify(Object.fromEntries(stats.responses))}`)
  })
})

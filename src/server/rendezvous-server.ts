import { randomBytes } from '@libp2p/crypto'
import { serviceCapabilities, TimeoutError } from '@libp2p/interface'
import { InvalidMessageLengthError, isPromise, LengthPrefixedDecoder, RateLimiter, RateLimitError } from '@libp2p/utils'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import {
  DEFAULT_MAX_DISCOVER_LIMIT, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_NAMESPACE_LENGTH,
  DEFAULT_MAX_RECORD_SIZE, DEFAULT_MAX_REGISTRATIONS, DEFAULT_MAX_REGISTRATIONS_PER_PEER, DEFAULT_MAX_REQUEST_SIZE,
  DEFAULT_MAX_STORE_BYTES,
  DEFAULT_MAX_REQUESTS_PER_PEER, DEFAULT_MAX_TTL, DEFAULT_MIN_TTL, DEFAULT_RATE_LIMIT_WINDOW, DEFAULT_TIMEOUT,
  DEFAULT_LEGACY_RECORD_AGENTS, DEFAULT_TTL, PROTOCOL, RATE_LIMIT_MAX_PEERS, SECOND,
  DEFAULT_IPV4_PREFIX_LENGTH, DEFAULT_IPV6_PREFIX_LENGTH
} from '../constants.ts'
import { InternalError, InvalidCookieError, InvalidNamespaceError, InvalidOptionError, InvalidSignedPeerRecordError, InvalidTTLError, NotAuthorizedError, RendezvousError, UnavailableError } from '../errors.ts'
import { isNamespaceTooLong } from '../namespace.ts'
import { positiveInteger, timerDelay } from '../options.ts'
import { Message } from '../pb/rendezvous.ts'
import { openSignedPeerRecord, peerRecordFormat, verifyWithKey } from '../signed-peer-record.ts'
import { CookieCodec } from './cookie.ts'
import { encodeDiscoverResponse } from './discover-response.ts'
import { checkExemptHosts, defaultMaxRegistrationsPerHost, HostRules } from './host.ts'
import { LegacyRecordClients } from './legacy-clients.ts'
import { MemoryRegistrationStore } from './memory-store.ts'
import { RestartableTimer } from './restartable-timer.ts'
import type { PeerRecordFormat, SignatureVerifier } from '../signed-peer-record.ts'
import type { DiscoverPage, DiscoverQuery, HeldRegistration, LimitRefusal, NewRegistration, RegistrationLimits, RegistrationStore } from './registration-store.ts'
import type { ComponentLogger, Connection, Counter, CounterGroup, IdentifyResult, Libp2pEvents, Logger, Metrics, PeerId, Startable, Stream, TypedEventTarget } from '@libp2p/interface'
import type { Registrar } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Options of `rendezvousServer()`. Times are in milliseconds; the wire
 * carries seconds.
 */
export interface RendezvousServerInit {
  /**
   * The protocol id to handle
   *
   * @default '/rendezvous/1.0.0'
   */
  protocol?: string

  /**
   * The TTL granted to a REGISTER that carries none, in ms
   *
   * @default 7_200_000 (2 h), or `minTtl` or `maxTtl` when 2 h lies outside them
   */
  defaultTtl?: number

  /**
   * The shortest TTL accepted, in ms; shorter ones get `E_INVALID_TTL`
   *
   * @default 60_000 (1 min)
   */
  minTtl?: number

  /**
   * The longest TTL accepted, in ms; longer ones get `E_INVALID_TTL`
   *
   * @default 259_200_000 (72 h)
   */
  maxTtl?: number

  /**
   * The longest namespace accepted, in UTF-8 bytes
   *
   * @default 255
   */
  maxNamespaceLength?: number

  /**
   * How many namespaces one peer may be registered in; a REGISTER in one more
   * gets `E_NOT_AUTHORIZED`. Refreshing an existing registration is always
   * allowed.
   *
   * @default 1000
   */
  maxRegistrationsPerPeer?: number

  /**
   * How many registrations the point stores in all; a new registration past
   * this gets `E_UNAVAILABLE`
   *
   * @default 1_000_000
   */
  maxRegistrations?: number

  /**
   * How many bytes the registrations may take in all, counting each
   * registration's signed peer record plus a measured overhead per
   * registration and per namespace (see `registrationBytes()` and
   * `namespaceBytes()`); a REGISTER past it gets `E_UNAVAILABLE`. A refresh
   * passes when its record is no larger than the one it replaces; a larger
   * one needs the room it grows by, and when refused leaves the registration
   * as it was. The default holds `maxRegistrations` registrations with
   * records of up to about 280 bytes and fits Node.js's default heap with
   * room to spare.
   *
   * @default 536_870_912 (512 MiB)
   */
  maxStoreBytes?: number

  /**
   * How many registrations the peers of one host may hold in all: an IPv4
   * address is one host, an IPv6 /64 is one host (see `ipv4PrefixLength` and
   * `ipv6PrefixLength`), a peer reaching the point through a circuit relay
   * counts as the relay's host, and an address without an IP (the memory
   * transport) is a host of its own. A REGISTER that would take its host
   * past it gets `E_UNAVAILABLE`; a refresh of a registration the peer holds
   * always passes; an unregistered or expired registration frees its slot.
   * Peer ids cost nothing to make, so the per-peer cap alone lets one
   * machine fill a point; this one does not.
   *
   * @default 1 % of `maxRegistrations`, at least 100 (10,000 of 1,000,000)
   */
  maxRegistrationsPerHost?: number

  /**
   * IPv4 addresses that share this many leading bits count as one host
   *
   * @default 32
   */
  ipv4PrefixLength?: number

  /**
   * IPv6 addresses that share this many leading bits count as one host
   *
   * @default 64
   */
  ipv6PrefixLength?: number

  /**
   * Addresses (`/ip4/10.0.0.5`) or ranges (`/ip4/10.0.0.0/ipcidr/8`,
   * `/ip6/2001:db8::/ipcidr/32`) whose registrations no host cap counts, as
   * for the connection manager's `allow` list. A trusted relay listed here
   * exempts the peers behind it.
   *
   * @default []
   */
  exemptHosts?: Array<string | Multiaddr>

  /**
   * The largest signed peer record accepted, in bytes; a REGISTER with a
   * larger one gets `E_INVALID_SIGNED_PEER_RECORD`. Real peers' records are
   * far smaller, and nim and nwaku points read at most 4096 bytes of a
   * REGISTER.
   *
   * @default 4096
   */
  maxRecordSize?: number

  /**
   * The most registrations in one DISCOVER response; a larger `limit`, or
   * none, is clamped to it
   *
   * @default 1000
   */
  maxDiscoverLimit?: number

  /**
   * The largest request read, in bytes; a longer length prefix resets the
   * stream before any of the message is buffered
   *
   * @default 8192
   */
  maxMessageSize?: number

  /**
   * How many rendezvous streams a connection may open at once
   *
   * @default 16
   */
  maxInboundStreams?: number

  /**
   * How long a stream may wait for its next request, in ms, before the point
   * closes it
   *
   * @default 10_000
   */
  timeout?: number

  /**
   * How many requests one peer may send in `rateLimitWindow`, counted over
   * all its connections and streams. A REGISTER or DISCOVER past it is
   * answered with `E_UNAVAILABLE`, an UNREGISTER past it is dropped, so a
   * peer flooding the point cannot starve the others.
   *
   * @default 100
   */
  maxRequestsPerPeer?: number

  /**
   * The window of `maxRequestsPerPeer`, in ms, at most 2_147_483_647 (a
   * timer's longest delay)
   *
   * @default 1000
   */
  rateLimitWindow?: number

  /**
   * Where registrations are kept
   *
   * @default MemoryRegistrationStore
   */
  store?: RegistrationStore

  /**
   * identify agent versions, by prefix, of clients that can verify only
   * rust-libp2p's legacy peer records and fail a whole DISCOVER response that
   * holds any other record: the DISCOVER responses of such a client hold the
   * legacy records only (a page scans at most `maxDiscoverLimit`
   * registrations for them).
   *
   * The point learns a client's agent version from identify's
   * `peer:identify`. When identify has not run on a connection (the node
   * runs it with `runOnConnectionOpen: false`, or it has not finished) by the
   * time the client asks for records, the point asks the client's identify
   * itself, once per connection, within `timeout`; a client that has
   * registered a standard record on the connection is not asked, and one
   * that does not answer gets every record. `[]` serves every client every
   * record and asks no one.
   *
   * @default ['rust-libp2p/']
   */
  legacyRecordAgents?: string[]

  /**
   * The key that authenticates DISCOVER cookies, at least 16 bytes. Points
   * that share a store and this secret accept each other's cookies; keep it
   * with a persistent store so cookies survive restarts.
   *
   * @default 32 random bytes per start
   */
  cookieSecret?: Uint8Array

  /**
   * What checks the signature of a peer record the point has not verified
   * before. A Node.js point can pass a faster verifier than
   * `@libp2p/crypto`'s, one that returns `false` for every signature that
   * one rejects: the `rendezvous-server` command checks Ed25519 signatures
   * with libsodium, at a third of the CPU.
   *
   * @default the key's own `verify`, through `@libp2p/crypto`
   */
  verifySignature?: SignatureVerifier
}

export interface RendezvousServerComponents {
  registrar: Registrar
  logger: ComponentLogger
  metrics?: Metrics
  /**
   * Where identify's `peer:identify` tells rust-libp2p clients apart
   */
  events?: TypedEventTarget<Libp2pEvents>
}

type RequestType = 'register' | 'unregister' | 'discover'

/**
 * A rendezvous point: keeps registrations per namespace and answers
 * REGISTER, UNREGISTER and DISCOVER as the specification says.
 */
export class RendezvousServer implements Startable {
  public readonly [Symbol.toStringTag] = '@libp2p/rendezvous-server'
  public readonly [serviceCapabilities]: string[] = ['@libp2p/rendezvous-server']

  private readonly components: RendezvousServerComponents
  private readonly log: Logger
  private readonly protocol: string
  private readonly defaultTtl: number
  private readonly minTtl: number
  private readonly maxTtl: number
  private readonly maxNamespaceLength: number
  private readonly limits: RegistrationLimits
  private readonly hosts: HostRules
  private readonly maxRecordSize: number
  private readonly maxDiscoverLimit: number
  private readonly maxMessageSize: number
  /**
   * Bytes in the length prefix of the longest admissible request
   */
  private readonly maxLengthLength: number
  private readonly maxInboundStreams: number
  private readonly timeout: number
  private readonly maxRequestsPerPeer: number
  private readonly rateLimitWindow: number
  private readonly rateLimiter: RateLimiter
  private readonly store: RegistrationStore
  private readonly cookieSecret?: Uint8Array
  private readonly verifySignature: SignatureVerifier
  private readonly legacyRecordClients: LegacyRecordClients
  private readonly streams = new Set<Stream>()
  private readonly registerOks = new Map<number, Uint8Array>()
  private readonly requests?: CounterGroup<RequestType>
  private readonly responses?: CounterGroup<Message.ResponseStatus>
  private readonly hostLimitRefusals?: Counter
  private cookies?: CookieCodec
  private started = false

  constructor (components: RendezvousServerComponents, init: RendezvousServerInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('libp2p:rendezvous:server')
    const options = resolveServerInit(init)
    this.protocol = options.protocol
    this.minTtl = options.minTtl
    this.maxTtl = options.maxTtl
    this.defaultTtl = options.defaultTtl
    this.maxNamespaceLength = options.maxNamespaceLength
    this.limits = {
      maxRegistrationsPerPeer: options.maxRegistrationsPerPeer,
      maxRegistrations: options.maxRegistrations,
      maxStoreBytes: options.maxStoreBytes,
      maxRegistrationsPerHost: options.maxRegistrationsPerHost
    }
    this.hosts = new HostRules(options, options.exemptHosts)
    this.maxRecordSize = options.maxRecordSize
    this.maxDiscoverLimit = options.maxDiscoverLimit
    this.maxMessageSize = options.maxMessageSize
    this.maxLengthLength = varint.encodingLength(this.maxMessageSize)
    this.maxInboundStreams = options.maxInboundStreams
    this.timeout = options.timeout
    this.maxRequestsPerPeer = options.maxRequestsPerPeer
    this.rateLimitWindow = options.rateLimitWindow
    this.rateLimiter = new RateLimiter({
      points: this.maxRequestsPerPeer,
      // seconds, fractions allowed
      duration: this.rateLimitWindow / SECOND,
      keyPrefix: ''
    })
    this.store = init.store ?? new MemoryRegistrationStore()
    this.cookieSecret = init.cookieSecret
    this.verifySignature = options.verifySignature
    this.legacyRecordClients = new LegacyRecordClients({ agents: options.legacyRecordAgents, timeout: this.timeout, log: this.log })

    this.requests = components.metrics?.registerCounterGroup('libp2p_rendezvous_server_requests_total', {
      label: 'type',
      help: 'Rendezvous requests received, by message type'
    })
    this.responses = components.metrics?.registerCounterGroup('libp2p_rendezvous_server_responses_total', {
      label: 'status',
      help: 'Rendezvous responses sent, by status'
    })
    components.metrics?.registerMetric('libp2p_rendezvous_server_registrations', {
      help: 'Registrations held by the rendezvous point',
      calculate: async () => this.store.count()
    })
    this.hostLimitRefusals = components.metrics?.registerCounter('libp2p_rendezvous_server_host_limit_refusals_total', {
      help: 'REGISTERs refused because their host held maxRegistrationsPerHost registrations'
    })

    const hostsAtLimit = this.store.hostsAtLimit?.bind(this.store)

    if (hostsAtLimit != null) {
      components.metrics?.registerMetric('libp2p_rendezvous_server_hosts_at_limit', {
        help: 'Hosts holding maxRegistrationsPerHost registrations',
        calculate: async () => hostsAtLimit(this.limits.maxRegistrationsPerHost)
      })
    }

    this.handleStream = this.handleStream.bind(this)
    this.onIdentify = this.onIdentify.bind(this)
  }

  readonly [Symbol.asyncDispose] = async (): Promise<void> => {
    await this.stop()
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    // libp2p may call start() once per name the service is known by
    if (this.started) {
      return
    }

    this.started = true
    this.cookies = new CookieCodec(this.cookieSecret ?? randomBytes(32))
    await this.store.start?.()

    if (this.legacyRecordClients.listening) {
      this.components.events?.addEventListener('peer:identify', this.onIdentify)
    }

    await this.components.registrar.handle(this.protocol, this.handleStream, {
      maxInboundStreams: this.maxInboundStreams
    })
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }

    this.started = false
    this.components.events?.removeEventListener('peer:identify', this.onIdentify)
    await this.components.registrar.unhandle(this.protocol)

    for (const stream of this.streams) {
      stream.abort(new Error('Rendezvous server is stopping'))
    }

    this.streams.clear()
    this.clearRateLimits()
    await this.store.stop?.()
  }

  private onIdentify (event: CustomEvent<IdentifyResult>): void {
    this.legacyRecordClients.identified(event.detail.connection, event.detail.agentVersion)
  }

  /**
   * The length of the request frame at the start of `data`, for
   * `LengthPrefixedDecoder`: a `RangeError` when more bytes are needed,
   * `InvalidMessageLengthError` when no frame can start there
   */
  private readonly decodeLength = (data: Uint8Array | Uint8ArrayList): number => {
    // contiguous bytes: reading a Uint8ArrayList byte by byte costs more
    // than the rest of the frame's decoding
    const prefix = data.byteLength === 0 ? EMPTY : data.subarray(0, Math.min(data.byteLength, this.maxLengthLength))
    // the prefix ends at its first byte under 0x80
    let last = 0

    while (last < prefix.byteLength && prefix[last] >= 0x80) {
      last++
    }

    if (last === prefix.byteLength) {
      // once the prefix is longer than any admissible length needs, no
      // byte will end it
      if (prefix.byteLength >= this.maxLengthLength) {
        throw new InvalidMessageLengthError('Length prefix is too long')
      }

      throw INCOMPLETE_LENGTH_PREFIX
    }

    const length = varint.decode(prefix)

    if (length > this.maxMessageSize) {
      throw new InvalidMessageLengthError('Message is too long')
    }

    // unsigned varints are minimal: the decoder takes the prefix to be as
    // long as the minimal encoding of its value, so a padded one (0x80
    // 0x00 for 0) would shift the frame
    if (last !== varint.encodingLength(length) - 1) {
      throw new InvalidMessageLengthError('Length prefix is not minimally encoded')
    }

    return length
  }

  /**
   * Serves requests on one stream until the remote closes its end. Several
   * requests may come on one stream (go clients) or one only (rust, nim).
   */
  private async handleStream (stream: Stream, connection: Connection): Promise<void> {
    const decoder = new LengthPrefixedDecoder({
      maxDataLength: this.maxMessageSize,
      // no cap on the buffer as a whole: the length checks already keep what
      // stays buffered between chunks to one incomplete frame of at most
      // maxMessageSize, and a cap would refuse a chunk that carries several
      // complete requests back to back
      maxBufferSize: Infinity,
      lengthDecoder: this.decodeLength
    })
    // no request is cut short: the timer runs while one is answered, and
    // goes off only once `timeout` has passed since the last was answered
    let answering = false
    const idleTimer = new RestartableTimer(() => {
      if (answering) {
        idleTimer.restart()
        return
      }

      this.log('no request within %d ms on stream %s, closing it', this.timeout, stream.id)
      stream.abort(new TimeoutError(`No request within ${this.timeout} ms`))
    }, this.timeout)

    this.streams.add(stream)

    try {
      for await (const chunk of stream) {
        for (const frame of decoder.decode(chunk)) {
          answering = true
          const answered = this.answer(frame, stream, connection)

          if (isPromise(answered)) {
            await answered
          }

          answering = false
          idleTimer.restart()
        }
      }

      // the idle timer, restarted after the last answer, bounds the close too
      await stream.close()
    } catch (err: any) {
      // garbage, a malformed or oversized frame, or a stream closed or reset
      // under us: nothing can be answered, and nothing else is affected
      this.log('closing stream %s after error - %e', stream.id, err)
      stream.abort(err)
    } finally {
      idleTimer.clear()
      this.streams.delete(stream)
    }
  }

  /**
   * Handles one request frame and writes its response, if it has one. Like
   * every step of a REGISTER, it returns a promise only when it has to wait:
   * a refresh at a store that answers at once then allocates no promise and
   * no async frame (with the idle timer's restart, 0.4 µs and 1.7 KB less a
   * request on a stream of REGISTERs, in process: BENCHMARKS.md)
   */
  private answer (frame: Uint8ArrayList, stream: Stream, connection: Connection): void | Promise<void> {
    const response = this.handleMessage(Message.decode(frame), connection)

    if (isPromise(response)) {
      return response.then(async response => { await this.send(response, stream) })
    }

    return this.send(response, stream)
  }

  /**
   * Writes `response`, if there is one, and waits for the stream to drain
   * when it must
   */
  private send (response: Response | undefined, stream: Stream): void | Promise<void> {
    if (response == null) {
      return
    }

    // OK responses come framed already
    const bytes = response instanceof Uint8Array || response instanceof Uint8ArrayList ? response : framed(Message.encode(response))

    if (!stream.send(bytes)) {
      return stream.onDrain({ signal: AbortSignal.timeout(this.timeout) })
    }
  }

  /**
   * The response to one request, or `undefined` for UNREGISTER. Throws when
   * the message is not a request at all.
   */
  private handleMessage (request: Message, connection: Connection): Response | undefined | Promise<Response | undefined> {
    const overLimit = this.overRateLimit(connection.remotePeer)

    // proto3 encoders (canvas-js) leave out a type of 0, and in the spec's
    // proto2 schema an absent enum reads as its first value: REGISTER
    switch (request.type ?? Message.MessageType.REGISTER) {
      case Message.MessageType.REGISTER: {
        this.requests?.increment({ register: true })

        try {
          if (overLimit != null) {
            throw overLimit
          }

          const ttlSeconds = this.register(request.register ?? {}, connection)

          return isPromise(ttlSeconds)
            ? ttlSeconds.then(ttlSeconds => this.registerGranted(ttlSeconds), err => this.registerRefused(err))
            : this.registerGranted(ttlSeconds)
        } catch (err: any) {
          return this.registerRefused(err)
        }
      }
      case Message.MessageType.DISCOVER: {
        this.requests?.increment({ discover: true })
        return this.answerDiscover(request.discover ?? {}, connection, overLimit)
      }
      case Message.MessageType.UNREGISTER: {
        this.requests?.increment({ unregister: true })
        return this.answerUnregister(request.unregister ?? {}, connection.remotePeer, overLimit)
      }
      default:
        throw new Error(`Unexpected message type ${request.type} in a request`)
    }
  }

  private registerGranted (ttlSeconds: number): Uint8Array {
    this.responses?.increment({ [Message.ResponseStatus.OK]: true })
    return this.registerOk(ttlSeconds)
  }

  private registerRefused (err: Error): Message {
    return { type: Message.MessageType.REGISTER_RESPONSE, registerResponse: this.refusal(err) }
  }

  private async answerDiscover (request: Message.Discover, connection: Connection, overLimit: UnavailableError | undefined): Promise<Response> {
    try {
      if (overLimit != null) {
        throw overLimit
      }

      const answer = await this.discover(request, await this.legacyRecordClients.legacyOnly(connection))
      this.responses?.increment({ [Message.ResponseStatus.OK]: true })
      return framed(encodeDiscoverResponse(answer.registrations, answer.cookie, answer.now))
    } catch (err: any) {
      return { type: Message.MessageType.DISCOVER_RESPONSE, discoverResponse: { registrations: [], ...this.refusal(err) } }
    }
  }

  /**
   * The specification has no response to UNREGISTER, not even an error
   */
  private async answerUnregister (request: Message.Unregister, remotePeer: PeerId, overLimit: UnavailableError | undefined): Promise<undefined> {
    if (overLimit != null) {
      // nothing can tell the peer: the request is dropped
      this.log('unregister dropped, %p is over its rate limit', remotePeer)
      return
    }

    await this.unregister(request, remotePeer).catch(err => {
      this.log('unregister failed - %e', err)
    })
  }

  /**
   * Counts a request of `remotePeer` against its rate limit. Returns
   * `undefined` while the peer is within it, else the `E_UNAVAILABLE` that
   * answers the request.
   */
  private overRateLimit (remotePeer: PeerId): UnavailableError | undefined {
    const key = remotePeer.toString()

    try {
      this.rateLimiter.consume(key)
      return undefined
    } catch (err: any) {
      if (!(err instanceof RateLimitError)) {
        throw err
      }

      const retryIn = Math.max(0, Math.ceil(err.msBeforeNext))

      return new UnavailableError(`rate limit exceeded: more than ${this.maxRequestsPerPeer} requests in ${this.rateLimitWindow} ms, retry in ${retryIn} ms`)
    } finally {
      this.boundRateLimits(key)
    }
  }

  /**
   * Counts lapse at the end of their window; past `RATE_LIMIT_MAX_PEERS`
   * peers in one window, the oldest count is forgotten
   */
  private boundRateLimits (current: string): void {
    const storage = this.rateLimiter.memoryStorage

    for (const key of storage.storage.keys()) {
      if (storage.storage.size <= RATE_LIMIT_MAX_PEERS) {
        break
      }

      if (key !== current) {
        storage.delete(key)
      }
    }
  }

  /**
   * Forgets every count, and cancels the timers that would forget them
   */
  private clearRateLimits (): void {
    const storage = this.rateLimiter.memoryStorage

    for (const key of [...storage.storage.keys()]) {
      storage.delete(key)
    }
  }

  /**
   * The status and text that answer a failed request, counted among the
   * responses: the typed error's own, or `E_INTERNAL_ERROR` for anything
   * unexpected
   */
  private refusal (err: Error): { status: Message.ResponseStatus, statusText: string } {
    let error: RendezvousError

    if (err instanceof RendezvousError) {
      if ((err as Partial<LimitRefusal>).limit === 'maxRegistrationsPerHost') {
        this.hostLimitRefusals?.increment()
      }

      this.log('request refused - %s', err.message)
      error = err
    } else {
      this.log.error('request failed - %e', err)
      error = new InternalError()
    }

    this.responses?.increment({ [error.status]: true })
    return { status: error.status, statusText: error.statusText }
  }

  /**
   * The OK response to a REGISTER granted `ttlSeconds`, framed: nearly every
   * client asks for one of a few TTLs, so each is encoded once
   */
  private registerOk (ttlSeconds: number): Uint8Array {
    let response = this.registerOks.get(ttlSeconds)

    if (response == null) {
      if (this.registerOks.size >= MAX_ENCODED_REGISTER_OKS) {
        this.registerOks.clear()
      }

      response = framed(Message.encode({
        type: Message.MessageType.REGISTER_RESPONSE,
        registerResponse: { status: Message.ResponseStatus.OK, statusText: '', ttl: BigInt(ttlSeconds) }
      })).subarray()
      this.registerOks.set(ttlSeconds, response)
    }

    return response
  }

  /**
   * Registers the peer on `connection` as `request` asks, and returns the TTL
   * granted, in seconds: at once for a record this peer already registered
   * at a store that answers at once, else in a promise
   */
  private register (request: Message.Register, connection: Connection): number | Promise<number> {
    const namespace = this.checkNamespace(request.ns)

    if (namespace === '') {
      throw new InvalidNamespaceError('namespace is missing')
    }

    // an explicit 0 is how proto3-style encoders write "absent"
    const ttl = request.ttl == null || request.ttl === 0n ? this.defaultTtl : Number(request.ttl) * SECOND

    if (ttl < this.minTtl || ttl > this.maxTtl) {
      throw new InvalidTTLError(`ttl must be between ${Math.ceil(this.minTtl / SECOND)} and ${Math.floor(this.maxTtl / SECOND)} seconds`)
    }

    // before the signature is checked: a record too large costs nothing more
    if ((request.signedPeerRecord?.byteLength ?? 0) > this.maxRecordSize) {
      throw new InvalidSignedPeerRecordError(`signed peer record is larger than ${this.maxRecordSize} bytes`)
    }

    const ttlSeconds = Math.floor(ttl / SECOND)
    const now = Date.now()
    const registration: NewRegistration = {
      peerId: connection.remotePeer.toString(),
      namespace,
      // a view into the request as received: the store copies what it keeps
      signedPeerRecord: request.signedPeerRecord ?? EMPTY,
      expiresAt: now + ttlSeconds * SECOND,
      host: this.hosts.hostOf(connection.remoteAddr)
    }

    // a record this peer already registered was verified then, and was
    // verified to be this peer's: the same bytes again need no second check
    const held = this.store.holdsRecord?.(registration.peerId, registration.signedPeerRecord, now)

    if (held === true) {
      return this.storeRegistration(registration, ttlSeconds, connection)
    }

    return this.verifyAndStore(registration, ttlSeconds, connection, held)
  }

  /**
   * The rest of `register()` for a record the store may not hold: checks it
   * unless the store says it holds it after all
   */
  private async verifyAndStore (registration: NewRegistration, ttlSeconds: number, connection: Connection, held: boolean | Promise<boolean> | undefined): Promise<number> {
    let format: PeerRecordFormat | undefined

    if (await held !== true) {
      const opened = await openSignedPeerRecord(registration.signedPeerRecord, { verifySignature: this.verifySignature })

      if (!opened.record.peerId.equals(connection.remotePeer)) {
        throw new NotAuthorizedError('peer record is of another peer than the one registering')
      }

      format = opened.format
    }

    return this.storeRegistration(registration, ttlSeconds, connection, format)
  }

  /**
   * Stores a checked registration granted `ttlSeconds`; returns them, in a
   * promise when the store answers in one
   */
  private storeRegistration (registration: NewRegistration, ttlSeconds: number, connection: Connection, format?: PeerRecordFormat): number | Promise<number> {
    this.legacyRecordClients.registered(connection, registration.signedPeerRecord, format)

    const written = this.store.put(registration, this.limits)

    return isPromise(written) ? written.then(() => ttlSeconds) : ttlSeconds
  }

  private async unregister (request: Message.Unregister, remotePeer: PeerId): Promise<void> {
    const namespace = this.checkNamespace(request.ns)

    if (namespace !== '') {
      await this.store.delete(remotePeer.toString(), namespace)
    }
  }

  /**
   * The page and cookie that answer a DISCOVER, and the time the page was
   * read at, for the TTLs left
   */
  private async discover (request: Message.Discover, legacyRecordsOnly: boolean): Promise<{ registrations: HeldRegistration[], cookie: Uint8Array, now: number }> {
    const namespace = this.checkNamespace(request.ns)
    const limit = request.limit == null || request.limit === 0n || request.limit > BigInt(this.maxDiscoverLimit)
      ? this.maxDiscoverLimit
      : Number(request.limit)
    const cookies = this.cookies

    if (cookies == null) {
      throw new InternalError('rendezvous server is not started')
    }

    let after = 0

    if (request.cookie != null && request.cookie.byteLength > 0) {
      const sequence = cookies.decode(namespace, request.cookie)

      if (sequence == null) {
        throw new InvalidCookieError('cookie is malformed, forged or for another namespace')
      }

      after = sequence
    }

    const now = Date.now()
    const query = {
      namespace: namespace === '' ? undefined : namespace,
      after,
      limit,
      now
    }
    const page = legacyRecordsOnly
      ? await this.legacyRecordsPage(query)
      : await (this.store.discoverHeld?.(query) ?? this.store.discover(query))

    return { registrations: page.registrations, cookie: cookies.encode(namespace, page.cursor), now }
  }

  /**
   * A page of legacy peer records only: the first `limit` of one store read
   * of up to `maxDiscoverLimit` registrations. Its cursor is the last one
   * served when the page is full, so the next page misses none of the rest;
   * else what the read reached, so records the client cannot verify are not
   * read again.
   */
  private async legacyRecordsPage (query: DiscoverQuery): Promise<DiscoverPage> {
    const read = await this.store.discover({ ...query, limit: this.maxDiscoverLimit })
    const registrations = []

    for (const registration of read.registrations) {
      if (peerRecordFormat(registration.signedPeerRecord) !== 'legacy') {
        continue
      }

      registrations.push(registration)

      if (registrations.length === query.limit) {
        return { registrations, cursor: registration.sequence }
      }
    }

    return { registrations, cursor: read.cursor }
  }

  /**
   * The namespace of a request, `''` when absent, or `E_INVALID_NAMESPACE`
   * when it is too long
   */
  private checkNamespace (namespace: string | undefined): string {
    namespace ??= ''

    if (isNamespaceTooLong(namespace, this.maxNamespaceLength)) {
      throw new InvalidNamespaceError(`namespace is longer than ${this.maxNamespaceLength} bytes`)
    }

    return namespace
  }
}

const EMPTY = new Uint8Array(0)

/**
 * What a point answers a request with: a message, or bytes framed already
 */
type Response = Message | Uint8Array | Uint8ArrayList

/**
 * A response as it goes on the stream, after its length
 */
function framed (response: Uint8Array): Uint8ArrayList {
  return new Uint8ArrayList(varint.encode(response.byteLength), response)
}

/**
 * How many granted TTLs the point keeps an encoded OK REGISTER response for
 */
const MAX_ENCODED_REGISTER_OKS = 64

/**
 * "Wait for more bytes", as `LengthPrefixedDecoder` reads a `RangeError`. It
 * asks after every frame, so one instance serves all: building an error (and
 * its stack) per request costs more than decoding the request.
 */
const INCOMPLETE_LENGTH_PREFIX = new RangeError('Length prefix is incomplete')

/**
 * The options with their defaults, checked: throws `InvalidOptionError`
 * naming the first bad one
 */
export function resolveServerInit (init: RendezvousServerInit): Required<Omit<RendezvousServerInit, 'store' | 'cookieSecret' | 'exemptHosts'>> & { exemptHosts: Multiaddr[] } {
  const maxRegistrations = positiveInteger('maxRegistrations', init.maxRegistrations ?? DEFAULT_MAX_REGISTRATIONS)
  const options = {
    protocol: init.protocol ?? PROTOCOL,
    ...resolveTtls(init),
    maxNamespaceLength: positiveInteger('maxNamespaceLength', init.maxNamespaceLength ?? DEFAULT_MAX_NAMESPACE_LENGTH),
    maxRegistrationsPerPeer: positiveInteger('maxRegistrationsPerPeer', init.maxRegistrationsPerPeer ?? DEFAULT_MAX_REGISTRATIONS_PER_PEER),
    maxRegistrations,
    maxStoreBytes: positiveInteger('maxStoreBytes', init.maxStoreBytes ?? DEFAULT_MAX_STORE_BYTES),
    maxRegistrationsPerHost: positiveInteger('maxRegistrationsPerHost', init.maxRegistrationsPerHost ?? defaultMaxRegistrationsPerHost(maxRegistrations)),
    ipv4PrefixLength: prefixLength('ipv4PrefixLength', init.ipv4PrefixLength ?? DEFAULT_IPV4_PREFIX_LENGTH, 32),
    ipv6PrefixLength: prefixLength('ipv6PrefixLength', init.ipv6PrefixLength ?? DEFAULT_IPV6_PREFIX_LENGTH, 128),
    exemptHosts: checkExemptHosts('exemptHosts', init.exemptHosts ?? []),
    maxRecordSize: positiveInteger('maxRecordSize', init.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE),
    maxDiscoverLimit: positiveInteger('maxDiscoverLimit', init.maxDiscoverLimit ?? DEFAULT_MAX_DISCOVER_LIMIT),
    maxMessageSize: positiveInteger('maxMessageSize', init.maxMessageSize ?? DEFAULT_MAX_REQUEST_SIZE),
    maxInboundStreams: positiveInteger('maxInboundStreams', init.maxInboundStreams ?? DEFAULT_MAX_INBOUND_STREAMS),
    // both are timers: longer ones overflow setTimeout and would fire at once
    timeout: timerDelay('timeout', init.timeout ?? DEFAULT_TIMEOUT),
    maxRequestsPerPeer: positiveInteger('maxRequestsPerPeer', init.maxRequestsPerPeer ?? DEFAULT_MAX_REQUESTS_PER_PEER),
    rateLimitWindow: timerDelay('rateLimitWindow', init.rateLimitWindow ?? DEFAULT_RATE_LIMIT_WINDOW),
    legacyRecordAgents: agentPrefixes('legacyRecordAgents', init.legacyRecordAgents ?? DEFAULT_LEGACY_RECORD_AGENTS),
    verifySignature: signatureVerifier('verifySignature', init.verifySignature ?? verifyWithKey)
  }

  if (init.cookieSecret != null && init.cookieSecret.byteLength < 16) {
    throw new InvalidOptionError('cookieSecret', 'must be at least 16 bytes')
  }

  return options
}

/**
 * The signature verifier option, checked: a function
 */
function signatureVerifier (option: string, value: SignatureVerifier): SignatureVerifier {
  if (typeof value !== 'function') {
    throw new InvalidOptionError(option, 'must be a function')
  }

  return value
}

/**
 * The TTL options, checked against each other
 */
function resolveTtls (init: RendezvousServerInit): { minTtl: number, maxTtl: number, defaultTtl: number } {
  const minTtl = positiveInteger('minTtl', init.minTtl ?? DEFAULT_MIN_TTL)
  const maxTtl = positiveInteger('maxTtl', init.maxTtl ?? DEFAULT_MAX_TTL)

  if (minTtl < SECOND) {
    throw new InvalidOptionError('minTtl', 'must be at least 1000 ms, the wire counts whole seconds')
  }

  if (maxTtl < minTtl) {
    throw new InvalidOptionError('maxTtl', `must not be less than minTtl (${minTtl} ms)`)
  }

  // a point that narrows the TTL range grants what lies nearest 2 h
  const defaultTtl = positiveInteger('defaultTtl', init.defaultTtl ?? Math.min(Math.max(DEFAULT_TTL, minTtl), maxTtl))

  if (defaultTtl < minTtl || defaultTtl > maxTtl) {
    throw new InvalidOptionError('defaultTtl', `must be between minTtl (${minTtl} ms) and maxTtl (${maxTtl} ms)`)
  }

  return { minTtl, maxTtl, defaultTtl }
}

/**
 * A prefix length of 0 to `bits`, or `InvalidOptionError`
 */
function prefixLength (option: string, value: number, bits: number): number {
  if (!Number.isInteger(value) || value < 0 || value > bits) {
    throw new InvalidOptionError(option, `must be a whole number of bits from 0 to ${bits}, got ${value}`)
  }

  return value
}

/**
 * A copy of a list of agent version prefixes, or `InvalidOptionError`
 */
function agentPrefixes (option: string, prefixes: readonly string[]): string[] {
  if (!Array.isArray(prefixes) || prefixes.some(prefix => typeof prefix !== 'string' || prefix === '')) {
    throw new InvalidOptionError(option, 'must be an array of agent version prefixes, none empty')
  }

  return [...prefixes]
}

import { NotStartedError, peerDiscoverySymbol, serviceCapabilities } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import { debounce } from '@libp2p/utils'
import { CODE_P2P, isMultiaddr, multiaddr } from '@multiformats/multiaddr'
import { TypedEventEmitter } from 'main-event'
import pRetry from 'p-retry'
import {
  DEFAULT_DISCOVER_INTERVAL, DEFAULT_DISCOVER_LIMIT, DEFAULT_MAX_DISCOVER_LIMIT, DEFAULT_MAX_NAMESPACE_LENGTH,
  DEFAULT_MAX_PEERS, DEFAULT_MAX_RECONNECT_DELAY, DEFAULT_MAX_TTL, DEFAULT_TIMEOUT, DEFAULT_TTL,
  MAX_PAGES_PER_POLL, MAX_REGISTER_MESSAGE_SIZE, PROTOCOL, REFRESH_RATIO, SECOND, ADDRESS_CHANGE_DEBOUNCE
} from '../constants.ts'
import { InvalidCookieError, InvalidNamespaceError, InvalidOptionError, InvalidSignedPeerRecordError, InvalidTTLError, NoResponseError, RendezvousError } from '../errors.ts'
import { isValidNamespace } from '../namespace.ts'
import { positiveInteger } from '../options.ts'
import { Message } from '../pb/rendezvous.ts'
import { openSignedPeerRecord, peerRecordFormat, sealPeerRecord } from '../signed-peer-record.ts'
import { sendDiscover, sendRegister, sendUnregister } from './requests.ts'
import type { RequestContext } from './requests.ts'
import type { PeerRecordFormat } from '../signed-peer-record.ts'
import type {
  AbortOptions, ComponentLogger, Libp2pEvents, Logger, PeerDiscovery, PeerDiscoveryEvents, PeerId, PeerStore,
  PrivateKey, Startable, TypedEventTarget
} from '@libp2p/interface'
import type { AddressManager, ConnectionManager } from '@libp2p/interface-internal'
import type { PeerRecord } from '@libp2p/peer-record'
import type { DebouncedFunction } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * The format this node signs its peer record in for a point:
 *
 * - `'standard'`: the libp2p specification's (js, go and nim points)
 * - `'legacy'`: rust-libp2p's, the only one rust-libp2p points accept
 * - `'auto'`: the standard format; a point that refuses it with
 * `E_INVALID_SIGNED_PEER_RECORD`, or ends the stream without answering (as
 * rust-libp2p points do with a record they cannot open), gets one immediate
 * retry in the legacy format, and when that succeeds the point is taken for
 * a legacy one for the component's lifetime
 */
export type RecordFormatOption = 'auto' | PeerRecordFormat

/**
 * A rendezvous point with options of its own
 */
export interface RendezvousPointInit {
  /**
   * The point's multiaddr, ending in `/p2p/<peer id>`
   */
  multiaddr: string | Multiaddr

  /**
   * The format of the peer record registered at this point
   *
   * @default the `recordFormat` option of `rendezvous()`
   */
  recordFormat?: RecordFormatOption
}

/**
 * Options of `rendezvous()`. Times are in milliseconds; the wire carries
 * seconds.
 */
export interface RendezvousInit {
  /**
   * The rendezvous points to use, each a multiaddr ending in `/p2p/<peer id>`,
   * or an object with the multiaddr and options for that point
   */
  rendezvousPoints: Array<string | Multiaddr | RendezvousPointInit>

  /**
   * The format of the peer record registered at the points (see
   * `RecordFormatOption`); discovery reads both formats whatever this is
   *
   * @default 'auto'
   */
  recordFormat?: RecordFormatOption

  /**
   * Namespaces to register in at every point on start, and to keep fresh
   *
   * @default []
   */
  namespaces?: string[]

  /**
   * Namespaces to poll for peers; their peers are emitted as `peer` events
   *
   * @default the value of `namespaces`
   */
  discoverNamespaces?: string[]

  /**
   * The TTL asked for each registration, in ms (whole seconds on the wire)
   *
   * @default 7_200_000 (2 h)
   */
  ttl?: number

  /**
   * How long to wait between two DISCOVER polls of one namespace at one
   * point, in ms. A full page is followed by the next one at once.
   *
   * @default 60_000
   */
  discoverInterval?: number

  /**
   * The most registrations asked for in one DISCOVER, 1 to 1000
   *
   * @default 100
   */
  discoverLimit?: number

  /**
   * The protocol id to speak
   *
   * @default '/rendezvous/1.0.0'
   */
  protocol?: string

  /**
   * How long one request may take, in ms
   *
   * @default 10_000
   */
  timeout?: number

  /**
   * The longest wait between two attempts to reach a point that is down, in
   * ms. Waits start at 1 s and double, with jitter, up to this.
   *
   * @default 60_000
   */
  maxReconnectDelay?: number

  /**
   * How many discovered peers are remembered, so that each is emitted once
   * until its registration lapses or its record changes
   *
   * @default 10_000
   */
  maxPeers?: number
}

export interface RendezvousComponents {
  peerId: PeerId
  privateKey: PrivateKey
  peerStore: PeerStore
  connectionManager: ConnectionManager
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

export interface RegisterOptions extends AbortOptions {
  /**
   * The TTL to ask for, in ms
   *
   * @default the `ttl` option of `rendezvous()`
   */
  ttl?: number
}

export interface DiscoverOptions extends AbortOptions {
  /**
   * The most peers to yield
   *
   * @default unlimited
   */
  limit?: number
}

/**
 * A peer found by `discover()`
 */
export interface DiscoveredPeer {
  id: PeerId
  multiaddrs: Multiaddr[]

  /**
   * The signed peer record envelope as the point returned it
   */
  signedPeerRecord: Uint8Array

  /**
   * The namespace the peer is registered in
   */
  ns: string

  /**
   * How long the registration has left, in ms
   */
  ttl: number
}

/**
 * The programmatic API of the rendezvous discovery component
 */
export interface Rendezvous extends PeerDiscovery {
  /**
   * Registers this node in `namespace` at every point, connecting first where
   * needed, and keeps the registration fresh until `unregister()` or
   * `stop()`. Resolves with the granted TTL in ms, the smallest any point
   * granted; rejects with the typed error of the status when no point
   * accepted it.
   */
  register(namespace: string, options?: RegisterOptions): Promise<number>

  /**
   * Removes this node's registration in `namespace` at every connected point
   * and stops refreshing it
   */
  unregister(namespace: string, options?: AbortOptions): Promise<void>

  /**
   * Yields the peers registered in `namespace` (`''` for every namespace) at
   * every point, one entry per peer, paging with cookies
   */
  discover(namespace: string, options?: number | DiscoverOptions): AsyncIterable<DiscoveredPeer>
}

/**
 * What the component tracks about one rendezvous point
 */
interface Point {
  peerId: PeerId
  multiaddr: Multiaddr
  /**
   * Becomes `'legacy'` once an `'auto'` point accepted only that
   */
  recordFormat: RecordFormatOption
  connected: boolean
  reconnecting: boolean
  /**
   * Pending re-registrations and polls, by namespace
   */
  refreshTimers: Map<string, ReturnType<typeof setTimeout>>
  pollTimers: Map<string, ReturnType<typeof setTimeout>>
  /**
   * Consecutive failures by namespace, for the backoff of retries
   */
  registerFailures: Map<string, number>
  pollFailures: Map<string, number>
  /**
   * The last cookie by namespace: cookies are scoped to (point, namespace)
   */
  cookies: Map<string, Uint8Array<ArrayBuffer>>
}

interface KnownPeer {
  seqNumber: bigint
  expiresAt: number
}

/**
 * Rendezvous discovery: registers this node at rendezvous points and emits
 * the peers registered in the same namespaces
 */
export class RendezvousDiscovery extends TypedEventEmitter<PeerDiscoveryEvents> implements Rendezvous, Startable {
  public readonly [peerDiscoverySymbol] = this
  public readonly [Symbol.toStringTag] = '@libp2p/rendezvous'
  public readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']

  private readonly components: RendezvousComponents
  private readonly log: Logger
  private readonly points: Point[]
  private readonly namespaces: string[]
  private readonly discoverNamespaces: string[]
  private readonly ttl: number
  private readonly discoverInterval: number
  private readonly discoverLimit: number
  private readonly timeout: number
  private readonly maxReconnectDelay: number
  private readonly maxPeers: number
  private readonly requestContext: RequestContext

  /**
   * Namespaces to keep registered, with the TTL asked for each (ms)
   */
  private readonly registrations = new Map<string, number>()
  private readonly peers = new Map<string, KnownPeer>()
  private readonly onAddressChange: DebouncedFunction
  private shutdown = new AbortController()
  private started = false
  /**
   * This node's sealed records, by format, and the addresses in them. The
   * promises are kept, so registrations that start together share one record
   * rather than each sealing its own with another sequence number.
   */
  private ownRecord?: { envelopes: Map<PeerRecordFormat, Promise<Uint8Array<ArrayBuffer>>>, addresses: string }

  constructor (components: RendezvousComponents, init: RendezvousInit) {
    super()
    this.components = components
    this.log = components.logger.forComponent('libp2p:rendezvous')
    const options = resolveRendezvousInit(init)
    this.points = options.rendezvousPoints.map(newPoint)
    this.namespaces = options.namespaces
    this.discoverNamespaces = options.discoverNamespaces
    this.ttl = options.ttl
    this.discoverInterval = options.discoverInterval
    this.discoverLimit = options.discoverLimit
    this.timeout = options.timeout
    this.maxReconnectDelay = options.maxReconnectDelay
    this.maxPeers = options.maxPeers
    this.requestContext = {
      connectionManager: components.connectionManager,
      protocol: options.protocol
    }

    this.onPeerConnect = this.onPeerConnect.bind(this)
    this.onPeerDisconnect = this.onPeerDisconnect.bind(this)
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
    this.onAddressChange = debounce(async () => this.reregisterIfAddressesChanged(), ADDRESS_CHANGE_DEBOUNCE)
  }

  isStarted (): boolean {
    return this.started
  }

  async start (): Promise<void> {
    // libp2p may call start() once per name the component is known by
    if (this.started) {
      return
    }

    this.started = true
    this.shutdown = new AbortController()

    for (const namespace of this.namespaces) {
      this.registrations.set(namespace, this.ttl)
    }

    this.components.events.addEventListener('peer:connect', this.onPeerConnect)
    this.components.events.addEventListener('peer:disconnect', this.onPeerDisconnect)
    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.onAddressChange.start()
  }

  /**
   * Points are dialled after every component has started, so the node has
   * its addresses and its transports are listening
   */
  afterStart (): void {
    for (const point of this.points) {
      if (this.components.connectionManager.getConnections(point.peerId).length > 0) {
        this.pointConnected(point)
      } else {
        this.connect(point)
      }
    }
  }

  /**
   * Unregisters while the connections to the points are still open: libp2p
   * closes them while it stops its components
   */
  async beforeStop (): Promise<void> {
    await this.unregisterEverywhere()
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }

    // a no-op when beforeStop() ran
    await this.unregisterEverywhere()

    this.started = false
    this.shutdown.abort()
    this.components.events.removeEventListener('peer:connect', this.onPeerConnect)
    this.components.events.removeEventListener('peer:disconnect', this.onPeerDisconnect)
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    this.onAddressChange.stop()

    for (const point of this.points) {
      this.clearTimers(point)
      point.connected = false
      point.reconnecting = false
      point.cookies.clear()
      point.registerFailures.clear()
      point.pollFailures.clear()
    }

    this.peers.clear()
    this.ownRecord = undefined
  }

  /**
   * Stops refreshing every registration and removes it from every connected
   * point, each request bounded by the timeout
   */
  private async unregisterEverywhere (): Promise<void> {
    const namespaces = [...this.registrations.keys()]
    this.registrations.clear()

    await Promise.all(this.points.map(async point => {
      for (const timer of point.refreshTimers.values()) {
        clearTimeout(timer)
      }

      point.refreshTimers.clear()

      if (point.connected && namespaces.length > 0) {
        await this.unregisterAt(point, namespaces, {})
      }
    }))
  }

  async register (namespace: string, options: RegisterOptions = {}): Promise<number> {
    this.assertStarted()
    checkNamespace(namespace)
    const ttl = options.ttl ?? this.ttl

    if (!isValidTtl(ttl)) {
      throw new InvalidTTLError(`ttl must be between ${SECOND} and ${DEFAULT_MAX_TTL} ms`)
    }

    this.registrations.set(namespace, ttl)

    const results = await Promise.allSettled(this.points.map(async point => this.registerAt(point, namespace, options)))
    const granted = results.flatMap(result => result.status === 'fulfilled' ? [result.value] : [])

    if (granted.length > 0) {
      return Math.min(...granted)
    }

    // no point holds it, so there is nothing to keep fresh
    this.registrations.delete(namespace)
    this.points.forEach(point => { this.clearTimer(point.refreshTimers, namespace) })

    const errors = results.flatMap(result => result.status === 'rejected' ? [result.reason] : [])
    throw errors.find(err => err instanceof RendezvousError) ?? errors[0]
  }

  async unregister (namespace: string, options: AbortOptions = {}): Promise<void> {
    this.assertStarted()
    checkNamespace(namespace)
    this.registrations.delete(namespace)

    await Promise.all(this.points.map(async point => {
      this.clearTimer(point.refreshTimers, namespace)
      point.registerFailures.delete(namespace)

      if (point.connected) {
        await this.unregisterAt(point, [namespace], options)
      }
    }))
  }

  async * discover (namespace: string, options: number | DiscoverOptions = {}): AsyncGenerator<DiscoveredPeer> {
    this.assertStarted()
    const { limit = Infinity, signal } = typeof options === 'number' ? { limit: options } : options

    if (namespace !== '') {
      checkNamespace(namespace)
    }

    const seen = new Set<string>()
    const errors: Error[] = []
    let remaining = limit

    for (const point of this.points) {
      try {
        for await (const peer of this.discoverAt(point, namespace, remaining, signal)) {
          if (seen.has(peer.id.toString())) {
            continue
          }

          seen.add(peer.id.toString())
          remaining--
          yield peer

          if (remaining === 0) {
            return
          }
        }
      } catch (err: any) {
        signal?.throwIfAborted()
        this.log('discover at %p failed - %e', point.peerId, err)
        errors.push(err)
      }
    }

    if (errors.length === this.points.length) {
      throw errors.find(err => err instanceof RendezvousError) ?? errors[0]
    }
  }

  /**
   * Pages through a namespace at one point with cookies, yielding up to
   * `limit` registrations that verify
   */
  private async * discoverAt (point: Point, namespace: string, limit: number, signal?: AbortSignal): AsyncGenerator<DiscoveredPeer> {
    let cookie: Uint8Array<ArrayBuffer> | undefined
    let remaining = limit

    while (remaining > 0) {
      const pageLimit = Math.min(remaining, this.discoverLimit)
      const page = await sendDiscover(this.requestContext, point.multiaddr, { namespace, limit: pageLimit, cookie }, this.requestOptions(signal))
      cookie = page.cookie

      for (const registration of page.registrations) {
        const record = await this.openRegistration(registration.signedPeerRecord)

        if (record != null) {
          remaining--
          yield {
            id: record.peerId,
            multiaddrs: dialableAddresses(record),
            signedPeerRecord: registration.signedPeerRecord,
            ns: registration.namespace,
            ttl: registration.ttl
          }
        }
      }

      if (page.registrations.length < pageLimit || cookie == null) {
        return
      }
    }
  }

  private onPeerConnect (event: CustomEvent<PeerId>): void {
    const point = this.pointOf(event.detail)

    if (point != null) {
      this.pointConnected(point)
    }
  }

  private onPeerDisconnect (event: CustomEvent<PeerId>): void {
    const point = this.pointOf(event.detail)

    if (point == null || !point.connected) {
      return
    }

    this.log('lost rendezvous point %p', point.peerId)
    point.connected = false
    this.clearTimers(point)
    this.connect(point)
  }

  private onSelfUpdate (): void {
    this.onAddressChange()
  }

  /**
   * Registers every namespace at a point that (re)connected, as it may have
   * restarted empty, and starts polling it
   */
  private pointConnected (point: Point): void {
    if (!this.started || point.connected) {
      return
    }

    this.log('connected to rendezvous point %p', point.peerId)
    point.connected = true

    for (const namespace of this.registrations.keys()) {
      void this.registerAt(point, namespace, {}).catch(() => {})
    }

    for (const namespace of this.discoverNamespaces) {
      void this.poll(point, namespace)
    }
  }

  /**
   * Dials a point until it answers, backing off with jitter, for as long as
   * the component runs
   */
  private connect (point: Point): void {
    if (!this.started || point.reconnecting) {
      return
    }

    point.reconnecting = true
    // a stop() and start() while this loop winds down must not let it touch
    // the next run's state
    const shutdown = this.shutdown
    const signal = shutdown.signal

    pRetry(async () => {
      await this.components.connectionManager.openConnection(point.multiaddr, this.requestOptions(signal))
    }, {
      retries: Infinity,
      factor: 2,
      minTimeout: SECOND,
      maxTimeout: this.maxReconnectDelay,
      randomize: true,
      signal,
      onFailedAttempt: ({ error, attemptNumber, retryDelay }) => {
        this.log('dial %d of rendezvous point %p failed, next in %d ms - %e', attemptNumber, point.peerId, retryDelay, error)
      }
    })
      .then(() => {
        if (shutdown === this.shutdown) {
          point.reconnecting = false
          // peer:connect may have fired before the dial resolved, or not at
          // all when a connection already existed
          this.pointConnected(point)
        }
      }, () => {
        if (shutdown === this.shutdown) {
          point.reconnecting = false
        }
      })
  }

  /**
   * Registers one namespace at one point and schedules its refresh; on
   * failure schedules a retry with backoff and rethrows
   */
  private async registerAt (point: Point, namespace: string, options: AbortOptions): Promise<number> {
    this.clearTimer(point.refreshTimers, namespace)

    try {
      const ttl = this.registrations.get(namespace) ?? this.ttl
      const granted = await this.registerInFormat(point, namespace, ttl, options.signal)

      point.registerFailures.delete(namespace)

      if (!this.registrations.has(namespace)) {
        // unregister() ran, or register() gave up, while this was in flight
        this.log('registered in %s at %p after it was dropped, unregistering', namespace, point.peerId)
        void this.unregisterAt(point, [namespace], {})
        return granted
      }

      this.log('registered in %s at %p for %d ms', namespace, point.peerId, granted)
      this.schedule(point.refreshTimers, namespace, granted * REFRESH_RATIO, async () => this.registerAt(point, namespace, {}))

      return granted
    } catch (err: any) {
      const failures = (point.registerFailures.get(namespace) ?? 0) + 1
      point.registerFailures.set(namespace, failures)
      this.log('registering in %s at %p failed %d times - %e', namespace, point.peerId, failures, err)

      // a lost point is registered again when it reconnects
      if (point.connected && this.registrations.has(namespace)) {
        this.schedule(point.refreshTimers, namespace, this.backoff(failures), async () => this.registerAt(point, namespace, {}))
      }

      throw err
    }
  }

  /**
   * Sends a REGISTER with this node's record in the point's format. An
   * `'auto'` point that refuses the standard record, or ends the stream
   * without an answer, gets one immediate retry in the legacy format, and is
   * taken for a legacy point once that succeeds.
   */
  private async registerInFormat (point: Point, namespace: string, ttl: number, signal?: AbortSignal): Promise<number> {
    const register = async (format: PeerRecordFormat): Promise<number> => sendRegister(this.requestContext, point.multiaddr, {
      namespace,
      signedPeerRecord: await this.signedPeerRecord(format),
      ttl
    }, this.requestOptions(signal))

    if (point.recordFormat !== 'auto') {
      return register(point.recordFormat)
    }

    try {
      return await register('standard')
    } catch (err: any) {
      // a stream that ended with its connection (the point went away) says
      // nothing of the record, and a retry would dial the point outside
      // the backoff
      const refused = err instanceof InvalidSignedPeerRecordError ||
        (err instanceof NoResponseError && this.components.connectionManager.getConnections(point.peerId).some(connection => connection.status === 'open'))

      if (!refused) {
        throw err
      }

      this.log('%p did not take a standard peer record (%s), trying the legacy format', point.peerId, err.name)
      const granted = await register('legacy')
      this.log('%p took a legacy peer record: it gets that format from now on', point.peerId)
      point.recordFormat = 'legacy'

      return granted
    }
  }

  private async unregisterAt (point: Point, namespaces: string[], options: AbortOptions): Promise<void> {
    await Promise.all(namespaces.map(async namespace => {
      try {
        await sendUnregister(this.requestContext, point.multiaddr, namespace, this.requestOptions(options.signal))
      } catch (err: any) {
        this.log('unregistering %s at %p failed - %e', namespace, point.peerId, err)
      }
    }))
  }

  /**
   * Fetches what is new in a namespace at a point, page after page while
   * pages come back full, then schedules the next poll
   */
  private async poll (point: Point, namespace: string): Promise<void> {
    try {
      for (let page = 0; page < MAX_PAGES_PER_POLL; page++) {
        const result = await this.fetchPage(point, namespace)

        if (result.registrations.length < this.discoverLimit) {
          break
        }
      }

      point.pollFailures.delete(namespace)
      this.schedulePoll(point, namespace, this.discoverInterval)
    } catch (err: any) {
      const failures = (point.pollFailures.get(namespace) ?? 0) + 1
      point.pollFailures.set(namespace, failures)
      this.log('discovering %s at %p failed %d times - %e', namespace, point.peerId, failures, err)
      this.schedulePoll(point, namespace, Math.max(this.discoverInterval, this.backoff(failures)))
    }
  }

  /**
   * Polls again later, unless the point was lost meanwhile: polling resumes
   * when it reconnects, and a poll must not dial it outside the backoff
   */
  private schedulePoll (point: Point, namespace: string, delay: number): void {
    if (point.connected) {
      this.schedule(point.pollTimers, namespace, delay, async () => this.poll(point, namespace))
    }
  }

  private async fetchPage (point: Point, namespace: string): Promise<{ registrations: unknown[] }> {
    const request = { namespace, limit: this.discoverLimit, cookie: point.cookies.get(namespace) }
    let result

    try {
      result = await sendDiscover(this.requestContext, point.multiaddr, request, this.requestOptions())
    } catch (err) {
      if (!(err instanceof InvalidCookieError) || request.cookie == null) {
        throw err
      }

      // the point restarted or rotated its secret: start over
      this.log('cookie for %s at %p refused, starting over', namespace, point.peerId)
      point.cookies.delete(namespace)
      result = await sendDiscover(this.requestContext, point.multiaddr, { ...request, cookie: undefined }, this.requestOptions())
    }

    if (result.cookie != null && result.cookie.byteLength > 0) {
      point.cookies.set(namespace, result.cookie)
    }

    const now = Date.now()

    for (const registration of result.registrations) {
      await this.consider(registration.signedPeerRecord, now + registration.ttl)
    }

    return result
  }

  /**
   * Stores a discovered peer's record and emits the peer when it is new to
   * this component, its registration had lapsed, or its record is newer
   */
  private async consider (signedPeerRecord: Uint8Array, expiresAt: number): Promise<void> {
    const record = await this.openRegistration(signedPeerRecord)

    if (record == null) {
      return
    }

    const key = record.peerId.toString()

    if (this.isKnown(key, record.seqNumber, expiresAt)) {
      return
    }

    try {
      if (peerRecordFormat(signedPeerRecord) === 'legacy') {
        // the peer store opens only the standard format: it gets the
        // addresses the record certifies, uncertified
        await this.components.peerStore.merge(record.peerId, { multiaddrs: dialableAddresses(record) })
      } else {
        await this.components.peerStore.consumePeerRecord(signedPeerRecord, { expectedPeer: record.peerId })
      }
    } catch (err: any) {
      this.log('could not store the record of %p - %e', record.peerId, err)
      return
    }

    // another poll may have taken the same record while we stored it
    if (!this.started || this.isKnown(key, record.seqNumber, expiresAt)) {
      return
    }

    this.forgetLapsedPeers()
    this.peers.delete(key)
    this.peers.set(key, { seqNumber: record.seqNumber, expiresAt })

    this.safeDispatchEvent('peer', {
      detail: {
        id: record.peerId,
        multiaddrs: dialableAddresses(record)
      }
    })
  }

  /**
   * Whether the peer was emitted with this record or a newer one and its
   * registration has not lapsed; if so, extends what is known of its expiry
   */
  private isKnown (key: string, seqNumber: bigint, expiresAt: number): boolean {
    const known = this.peers.get(key)

    if (known == null || known.expiresAt <= Date.now() || known.seqNumber < seqNumber) {
      return false
    }

    known.expiresAt = Math.max(known.expiresAt, expiresAt)
    return true
  }

  /**
   * Drops peers whose registration lapsed, and the oldest past `maxPeers`
   */
  private forgetLapsedPeers (): void {
    if (this.peers.size < this.maxPeers) {
      return
    }

    const now = Date.now()

    for (const [key, peer] of this.peers) {
      if (peer.expiresAt <= now) {
        this.peers.delete(key)
      }
    }

    // still full: forget the peer heard of longest ago
    for (const key of this.peers.keys()) {
      if (this.peers.size < this.maxPeers) {
        break
      }

      this.peers.delete(key)
    }
  }

  /**
   * A registration's peer record when it verifies and is not our own
   */
  private async openRegistration (signedPeerRecord: Uint8Array): Promise<PeerRecord | undefined> {
    try {
      const { record } = await openSignedPeerRecord(signedPeerRecord)

      if (record.peerId.equals(this.components.peerId)) {
        return undefined
      }

      return record
    } catch (err: any) {
      this.log('ignoring a registration that does not verify - %e', err)
      return undefined
    }
  }

  /**
   * This node's signed peer record in a format, resealed when its addresses
   * change
   */
  private async signedPeerRecord (format: PeerRecordFormat): Promise<Uint8Array<ArrayBuffer>> {
    const multiaddrs = this.ownAddresses()
    const addresses = multiaddrs.map(ma => ma.toString()).join(',')

    if (this.ownRecord?.addresses !== addresses) {
      this.ownRecord = { envelopes: new Map(), addresses }
    }

    const envelopes = this.ownRecord.envelopes
    let envelope = envelopes.get(format)

    if (envelope == null) {
      const sealed = this.seal(multiaddrs, format)
      envelopes.set(format, sealed)
      // a failed seal is not cached
      sealed.catch(() => {
        if (envelopes.get(format) === sealed) {
          envelopes.delete(format)
        }
      })
      envelope = sealed
    }

    return envelope
  }

  /**
   * Seals a record that fits in a REGISTER of under 4096 bytes, which nim and
   * nwaku points read at most, whatever the namespace: addresses past that
   * are left out
   */
  private async seal (multiaddrs: Multiaddr[], format: PeerRecordFormat): Promise<Uint8Array<ArrayBuffer>> {
    const longestNamespace = 'x'.repeat(DEFAULT_MAX_NAMESPACE_LENGTH)

    while (true) {
      const envelope = await sealPeerRecord(this.components.privateKey, this.components.peerId, multiaddrs, { format })

      if (registerSize(longestNamespace, envelope) <= MAX_REGISTER_MESSAGE_SIZE || multiaddrs.length <= 1) {
        return envelope
      }

      multiaddrs = multiaddrs.slice(0, -1)
      this.log('signed peer record too large for a REGISTER, leaving out addresses past %d', multiaddrs.length)
    }
  }

  private ownAddresses (): Multiaddr[] {
    return this.components.addressManager.getAddresses().map(ma => ma.decapsulateCode(CODE_P2P))
  }

  private async reregisterIfAddressesChanged (): Promise<void> {
    const addresses = this.ownAddresses().map(ma => ma.toString()).join(',')

    if (!this.started || this.ownRecord == null || this.ownRecord.addresses === addresses) {
      return
    }

    this.log('own addresses changed, registering again')

    for (const point of this.points) {
      if (point.connected) {
        for (const namespace of this.registrations.keys()) {
          void this.registerAt(point, namespace, {}).catch(() => {})
        }
      }
    }
  }

  private schedule (timers: Map<string, ReturnType<typeof setTimeout>>, namespace: string, delay: number, task: () => Promise<unknown>): void {
    this.clearTimer(timers, namespace)

    if (!this.started) {
      return
    }

    timers.set(namespace, setTimeout(() => {
      timers.delete(namespace)
      task().catch(() => {})
    }, delay))
  }

  private clearTimer (timers: Map<string, ReturnType<typeof setTimeout>>, namespace: string): void {
    clearTimeout(timers.get(namespace))
    timers.delete(namespace)
  }

  private clearTimers (point: Point): void {
    for (const timers of [point.refreshTimers, point.pollTimers]) {
      for (const timer of timers.values()) {
        clearTimeout(timer)
      }

      timers.clear()
    }
  }

  /**
   * Exponential backoff with jitter: 1 s, 2 s, 4 s ... up to
   * `maxReconnectDelay`, times a random factor in [1, 2)
   */
  private backoff (failures: number): number {
    return Math.min(this.maxReconnectDelay, SECOND * 2 ** Math.min(failures - 1, 30)) * (1 + Math.random())
  }

  private requestOptions (signal?: AbortSignal): AbortOptions {
    const signals = [AbortSignal.timeout(this.timeout), this.shutdown.signal]

    if (signal != null) {
      signals.push(signal)
    }

    return { signal: AbortSignal.any(signals) }
  }

  private pointOf (peerId: PeerId): Point | undefined {
    return this.points.find(point => point.peerId.equals(peerId))
  }

  private assertStarted (): void {
    if (!this.started) {
      throw new NotStartedError('The rendezvous component is not started')
    }
  }
}

/**
 * A record's addresses without a trailing `/p2p/<its own peer id>`, which
 * some peers (canvas-js) sign in: libp2p stores addresses without it, and
 * would otherwise keep each one twice
 */
function dialableAddresses (record: PeerRecord): Multiaddr[] {
  const peerId = record.peerId.toString()

  return record.multiaddrs.map(ma => {
    const last = ma.getComponents().at(-1)
    return last?.code === CODE_P2P && last.value === peerId ? ma.decapsulateCode(CODE_P2P) : ma
  })
}

function registerSize (namespace: string, signedPeerRecord: Uint8Array<ArrayBuffer>): number {
  return Message.encode({
    type: Message.MessageType.REGISTER,
    register: { ns: namespace, signedPeerRecord, ttl: BigInt(DEFAULT_MAX_TTL / SECOND) }
  }).byteLength
}

/**
 * The options with their defaults, checked: throws `InvalidOptionError`
 * naming the first bad one
 */
export function resolveRendezvousInit (init: RendezvousInit): Required<Omit<RendezvousInit, 'rendezvousPoints'>> & { rendezvousPoints: ResolvedPoint[] } {
  const namespaces = checkNamespaces('namespaces', init.namespaces ?? [])
  const recordFormat = checkRecordFormat('recordFormat', init.recordFormat ?? 'auto')
  const options = {
    rendezvousPoints: parsePoints(init.rendezvousPoints, recordFormat),
    recordFormat,
    namespaces,
    discoverNamespaces: checkNamespaces('discoverNamespaces', init.discoverNamespaces ?? namespaces),
    ttl: checkTtl('ttl', init.ttl ?? DEFAULT_TTL),
    discoverInterval: positiveInteger('discoverInterval', init.discoverInterval ?? DEFAULT_DISCOVER_INTERVAL),
    discoverLimit: positiveInteger('discoverLimit', init.discoverLimit ?? DEFAULT_DISCOVER_LIMIT),
    protocol: init.protocol ?? PROTOCOL,
    timeout: positiveInteger('timeout', init.timeout ?? DEFAULT_TIMEOUT),
    maxReconnectDelay: positiveInteger('maxReconnectDelay', init.maxReconnectDelay ?? DEFAULT_MAX_RECONNECT_DELAY),
    maxPeers: positiveInteger('maxPeers', init.maxPeers ?? DEFAULT_MAX_PEERS)
  }

  if (options.discoverLimit > DEFAULT_MAX_DISCOVER_LIMIT) {
    throw new InvalidOptionError('discoverLimit', `must be at most ${DEFAULT_MAX_DISCOVER_LIMIT}, what points serve`)
  }

  return options
}

interface ResolvedPoint {
  peerId: PeerId
  multiaddr: Multiaddr
  recordFormat: RecordFormatOption
}

const RECORD_FORMATS: RecordFormatOption[] = ['auto', 'standard', 'legacy']

/**
 * A record format option, or `InvalidOptionError` naming `option`: a point's
 * own is named as `rendezvousPoints`
 */
function checkRecordFormat (option: string, recordFormat: RecordFormatOption): RecordFormatOption {
  if (!RECORD_FORMATS.includes(recordFormat)) {
    throw new InvalidOptionError(option, `a recordFormat must be 'auto', 'standard' or 'legacy', got ${JSON.stringify(recordFormat)}`)
  }

  return recordFormat
}

function parsePoints (rendezvousPoints: RendezvousInit['rendezvousPoints'] | undefined, recordFormat: RecordFormatOption): ResolvedPoint[] {
  if (!Array.isArray(rendezvousPoints) || rendezvousPoints.length === 0) {
    throw new InvalidOptionError('rendezvousPoints', 'at least one rendezvous point is required')
  }

  return rendezvousPoints.map(entry => {
    const point: Partial<RendezvousPointInit> = typeof entry === 'string' || isMultiaddr(entry) ? { multiaddr: entry } : entry ?? {}
    let ma: Multiaddr

    try {
      if (typeof point.multiaddr === 'string') {
        ma = multiaddr(point.multiaddr)
      } else if (isMultiaddr(point.multiaddr)) {
        ma = point.multiaddr
      } else {
        throw new Error('neither a string nor a Multiaddr')
      }
    } catch (err: any) {
      throw new InvalidOptionError('rendezvousPoints', `${point.multiaddr} is not a multiaddr: ${err.message}`)
    }

    const peerId = ma.getComponents().findLast(component => component.code === CODE_P2P)?.value

    if (peerId == null) {
      throw new InvalidOptionError('rendezvousPoints', `${ma} has no /p2p/<peer id>`)
    }

    return {
      peerId: peerIdFromString(peerId),
      multiaddr: ma,
      recordFormat: checkRecordFormat('rendezvousPoints', point.recordFormat ?? recordFormat)
    }
  })
}

function newPoint ({ peerId, multiaddr, recordFormat }: ResolvedPoint): Point {
  return {
    peerId,
    multiaddr,
    recordFormat,
    connected: false,
    reconnecting: false,
    refreshTimers: new Map(),
    pollTimers: new Map(),
    registerFailures: new Map(),
    pollFailures: new Map(),
    cookies: new Map()
  }
}

function checkNamespaces (option: string, namespaces: string[]): string[] {
  if (!Array.isArray(namespaces)) {
    throw new InvalidOptionError(option, 'must be an array of strings')
  }

  for (const namespace of namespaces) {
    if (!isValidNamespace(namespace, DEFAULT_MAX_NAMESPACE_LENGTH)) {
      throw new InvalidOptionError(option, `"${namespace}" is not a namespace of 1 to ${DEFAULT_MAX_NAMESPACE_LENGTH} bytes`)
    }
  }

  return [...new Set(namespaces)]
}

function checkNamespace (namespace: string): void {
  if (!isValidNamespace(namespace, DEFAULT_MAX_NAMESPACE_LENGTH)) {
    throw new InvalidNamespaceError(`namespace must be 1 to ${DEFAULT_MAX_NAMESPACE_LENGTH} bytes`)
  }
}

/**
 * Whether a TTL in ms is one a client may ask for: whole ms, 1 s to 72 h
 */
function isValidTtl (ttl: number): boolean {
  return Number.isSafeInteger(ttl) && ttl >= SECOND && ttl <= DEFAULT_MAX_TTL
}

function checkTtl (option: string, ttl: number): number {
  if (!isValidTtl(ttl)) {
    throw new InvalidOptionError(option, `must be between ${SECOND} and ${DEFAULT_MAX_TTL} ms, got ${ttl}`)
  }

  return ttl
}

import { NotStartedError, peerDiscoverySymbol, serviceCapabilities } from '@libp2p/interface'
import { debounce } from '@libp2p/utils'
import { TypedEventEmitter } from 'main-event'
import { ADDRESS_CHANGE_DEBOUNCE, DEFAULT_MAX_NAMESPACE_LENGTH, DEFAULT_MAX_TTL, MAX_EMPTY_PAGES, SECOND } from '../constants.ts'
import { InvalidNamespaceError, InvalidTTLError, RendezvousError } from '../errors.ts'
import { isValidNamespace } from '../namespace.ts'
import { isValidTtl, resolveRendezvousInit } from './options.ts'
import { OwnRecord } from './own-record.ts'
import { walkPages } from './paging.ts'
import { openRegistration, PeerIntake, recordAddresses } from './peer-intake.ts'
import { PointPoller } from './point-poller.ts'
import { PointRegistrations } from './point-registrations.ts'
import { RendezvousPoint } from './rendezvous-point.ts'
import type { RendezvousInit } from './options.ts'
import type {
  AbortOptions, ComponentLogger, Libp2pEvents, Logger, PeerDiscovery, PeerDiscoveryEvents, PeerId, PeerStore,
  PrivateKey, Startable, TypedEventTarget
} from '@libp2p/interface'
import type { AddressManager, ConnectionManager } from '@libp2p/interface-internal'
import type { DebouncedFunction } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'

export type { RendezvousInit, RendezvousPointInit } from './options.ts'
export type { PeerFilter } from './peer-intake.ts'
export type { RecordFormat } from './rendezvous-point.ts'

/**
 * What the component takes from the libp2p node
 */
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
   * Registers this node in `namespace` at every point, dialling where there
   * is no connection, and keeps the registration fresh until `unregister()`
   * or `stop()`. Resolves with the granted TTL in ms, the smallest any point
   * granted; rejects with the typed error of the status when no point
   * accepted it.
   */
  register(namespace: string, options?: RegisterOptions): Promise<number>

  /**
   * Stops refreshing this node's registration in `namespace` and removes it
   * from every point that may hold it
   */
  unregister(namespace: string, options?: AbortOptions): Promise<void>

  /**
   * Yields the peers registered in `namespace` (`''` for every namespace) at
   * every point, one entry per peer, paging with cookies
   */
  discover(namespace: string, options?: number | DiscoverOptions): AsyncIterable<DiscoveredPeer>
}

/**
 * The parts that serve one rendezvous point
 */
interface PointParts {
  point: RendezvousPoint
  registrations: PointRegistrations
  poller: PointPoller
}

/**
 * Rendezvous discovery: registers this node at rendezvous points and emits
 * the peers registered in the same namespaces.
 *
 * This class wires the parts and holds the public API: per point, a
 * `RendezvousPoint` sends the requests (a few at a time, dialling when
 * needed, backing off after failures), `PointRegistrations` keeps this
 * node's registrations there, and `PointPoller` polls its namespaces; one
 * `OwnRecord` seals this node's record for them all, and one `PeerIntake`
 * turns what the polls bring into `peer` events.
 */
export class RendezvousDiscovery extends TypedEventEmitter<PeerDiscoveryEvents> implements Rendezvous, Startable {
  public readonly [peerDiscoverySymbol] = this
  public readonly [Symbol.toStringTag] = '@libp2p/rendezvous'
  public readonly [serviceCapabilities]: string[] = ['@libp2p/peer-discovery']

  private readonly components: RendezvousComponents
  private readonly log: Logger
  private readonly namespaces: string[]
  private readonly ttl: number
  private readonly discoverLimit: number
  private readonly timeout: number
  private readonly record: OwnRecord
  private readonly intake: PeerIntake
  private readonly points: PointParts[]
  /**
   * Namespaces to keep registered, with the TTL asked for each (ms)
   */
  private readonly wanted = new Map<string, number>()
  private readonly onAddressChange: DebouncedFunction
  private started = false
  /**
   * Unregistering on the way out: `beforeStop()` starts it, `stop()` waits
   * for it
   */
  private leaving?: Promise<void>

  constructor (components: RendezvousComponents, init: RendezvousInit) {
    super()
    this.components = components
    this.log = components.logger.forComponent('libp2p:rendezvous')
    const options = resolveRendezvousInit(init)
    this.namespaces = options.namespaces
    this.ttl = options.ttl
    this.discoverLimit = options.discoverLimit
    this.timeout = options.timeout
    this.record = new OwnRecord(components, this.log)
    this.intake = new PeerIntake(components, {
      peerFilter: options.peerFilter,
      tagName: options.tagName,
      tagValue: options.tagValue,
      maxPeers: options.maxPeers,
      timeout: options.timeout,
      log: this.log,
      emit: (peer) => {
        if (this.started) {
          this.safeDispatchEvent('peer', { detail: peer })
        }
      }
    })

    this.points = options.rendezvousPoints.map(({ peerId, multiaddr, recordFormat }) => {
      const log = components.logger.forComponent(`libp2p:rendezvous:${peerId.toString().slice(-8)}`)
      const point = new RendezvousPoint(components, {
        peerId,
        multiaddr,
        recordFormat,
        protocol: options.protocol,
        timeout: options.timeout,
        maxReconnectDelay: options.maxReconnectDelay
      }, log)
      const registrations = new PointRegistrations({
        point,
        record: this.record,
        wanted: this.wanted,
        maxReconnectDelay: options.maxReconnectDelay,
        log
      })
      const poller = new PointPoller({
        point,
        registrations,
        namespaces: options.discoverNamespaces,
        interval: options.discoverInterval,
        limit: options.discoverLimit,
        maxReconnectDelay: options.maxReconnectDelay,
        ownPeerId: components.peerId,
        consider: async (registration) => this.intake.consider(registration),
        log
      })

      return { point, registrations, poller }
    })

    this.onSelfUpdate = this.onSelfUpdate.bind(this)
    this.onAddressChange = debounce(() => { this.registerAgainIfAddressesChanged() }, ADDRESS_CHANGE_DEBOUNCE)
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
    this.leaving = undefined

    for (const namespace of this.namespaces) {
      this.wanted.set(namespace, this.ttl)
    }

    this.components.events.addEventListener('self:peer:update', this.onSelfUpdate)
    this.onAddressChange.start()
  }

  /**
   * Registers and polls once every component has started, so the node has
   * its addresses and its transports are listening
   */
  afterStart (): void {
    for (const { registrations, poller } of this.points) {
      registrations.start()
      poller.start()
    }
  }

  /**
   * Unregisters while libp2p can still reach the points: it closes every
   * connection while it stops its components
   */
  async beforeStop (): Promise<void> {
    if (this.started) {
      await this.leave()
    }
  }

  async stop (): Promise<void> {
    if (!this.started) {
      return
    }

    // done already when beforeStop() ran
    await this.leave()

    this.started = false
    this.components.events.removeEventListener('self:peer:update', this.onSelfUpdate)
    this.onAddressChange.stop()
    await Promise.all(this.points.map(async ({ point }) => point.stop()))
    this.wanted.clear()
    this.intake.clear()
    this.record.clear()
  }

  /**
   * Stops polling and refreshing, and removes every registration any point
   * may hold, all within one timeout
   */
  private async leave (): Promise<void> {
    this.leaving ??= (async () => {
      const signal = AbortSignal.timeout(this.timeout)

      await Promise.all(this.points.map(async ({ registrations, poller }) => {
        poller.stop()
        await registrations.stop({ signal })
      }))
    })()

    await this.leaving
  }

  async register (namespace: string, options: RegisterOptions = {}): Promise<number> {
    this.assertStarted()
    checkNamespace(namespace)
    const ttl = options.ttl ?? this.ttl

    if (!isValidTtl(ttl)) {
      throw new InvalidTTLError(`ttl must be between ${SECOND} and ${DEFAULT_MAX_TTL} ms`)
    }

    this.wanted.set(namespace, ttl)

    const results = await Promise.allSettled(this.points.map(async ({ registrations }) => registrations.register(namespace, { signal: options.signal })))
    const granted = results.flatMap(result => result.status === 'fulfilled' ? [result.value] : [])

    if (granted.length > 0) {
      return Math.min(...granted)
    }

    // no point holds it, so there is nothing to keep fresh; a point that did
    // not answer may hold it all the same
    if (this.wanted.get(namespace) === ttl) {
      this.wanted.delete(namespace)
      await Promise.all(this.points.map(async ({ registrations }) => registrations.unregister(namespace)))
    }

    const errors = results.flatMap(result => result.status === 'rejected' ? [result.reason] : [])
    throw errors.find(err => err instanceof RendezvousError) ?? errors[0]
  }

  async unregister (namespace: string, options: AbortOptions = {}): Promise<void> {
    this.assertStarted()
    checkNamespace(namespace)
    this.wanted.delete(namespace)

    await Promise.all(this.points.map(async ({ registrations }) => registrations.unregister(namespace, options)))
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
    const wanted = (): number => remaining

    for (const { point } of this.points) {
      try {
        for await (const peer of this.discoverAt(point, namespace, wanted, signal)) {
          if (seen.has(peer.id.toString())) {
            continue
          }

          seen.add(peer.id.toString())
          remaining--
          yield peer

          if (remaining <= 0) {
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
   * Walks a namespace at one point from the start, yielding the
   * registrations that verify and are not this node's; pages ask for what
   * is still wanted
   */
  private async * discoverAt (point: RendezvousPoint, namespace: string, remaining: () => number, signal?: AbortSignal): AsyncGenerator<DiscoveredPeer> {
    const fetchPage = async (cookie?: Uint8Array<ArrayBuffer>): ReturnType<RendezvousPoint['discover']> =>
      point.discover({ namespace, limit: Math.min(remaining(), this.discoverLimit), cookie }, { signal })

    for await (const page of walkPages(fetchPage, { maxEmptyPages: MAX_EMPTY_PAGES })) {
      for (const registration of page.registrations) {
        const opened = await openRegistration(registration.signedPeerRecord, this.log)

        if (opened == null || opened.record.peerId.equals(this.components.peerId)) {
          continue
        }

        yield {
          id: opened.record.peerId,
          multiaddrs: recordAddresses(opened.record),
          signedPeerRecord: registration.signedPeerRecord,
          ns: registration.namespace,
          ttl: registration.ttl
        }
      }
    }
  }

  private onSelfUpdate (): void {
    this.onAddressChange()
  }

  private registerAgainIfAddressesChanged (): void {
    if (!this.started || this.wanted.size === 0 || !this.record.changed()) {
      return
    }

    this.log('own addresses changed, registering again')

    for (const { registrations } of this.points) {
      registrations.registerAll()
    }
  }

  private assertStarted (): void {
    if (!this.started) {
      throw new NotStartedError('The rendezvous component is not started')
    }
  }
}

function checkNamespace (namespace: string): void {
  if (!isValidNamespace(namespace, DEFAULT_MAX_NAMESPACE_LENGTH)) {
    throw new InvalidNamespaceError(`namespace must be 1 to ${DEFAULT_MAX_NAMESPACE_LENGTH} bytes`)
  }
}

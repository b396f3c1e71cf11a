import { peerIdFromString } from '@libp2p/peer-id'
import { CODE_P2P, isMultiaddr, multiaddr } from '@multiformats/multiaddr'
import {
  DEFAULT_DISCOVER_INTERVAL, DEFAULT_DISCOVER_LIMIT, DEFAULT_MAX_DISCOVER_LIMIT, DEFAULT_MAX_NAMESPACE_LENGTH,
  DEFAULT_MAX_PEERS, DEFAULT_MAX_RECONNECT_DELAY, DEFAULT_MAX_TTL, DEFAULT_TAG_NAME, DEFAULT_TAG_VALUE, DEFAULT_TIMEOUT,
  DEFAULT_TTL, PROTOCOL, SECOND
} from '../constants.ts'
import { InvalidOptionError } from '../errors.ts'
import { isValidNamespace } from '../namespace.ts'
import { positiveInteger, timerDelay } from '../options.ts'
import type { PeerFilter } from './peer-intake.ts'
import type { RecordFormat } from './rendezvous-point.ts'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * A rendezvous point with options of its own
 */
export interface RendezvousPointInit {
  /**
   * The point's multiaddr, ending in `/p2p/<peer id>`
   */
  multiaddr: string | Multiaddr

  /**
   * How to sign the records registered at this point
   *
   * @default the `recordFormat` option of `rendezvous()`
   */
  recordFormat?: RecordFormat
}

/**
 * Options of `rendezvous()`. Times are in milliseconds; the wire carries
 * seconds.
 */
export interface RendezvousInit {
  /**
   * The rendezvous points to use, each a multiaddr ending in
   * `/p2p/<peer id>`, or an object with the multiaddr and options of that
   * point
   */
  rendezvousPoints: Array<string | Multiaddr | RendezvousPointInit>

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
   * The time from one round of DISCOVER polls at a point to the next, in
   * ms, up to a tenth less at random. A round polls every namespace; a page
   * that moves the cookie is followed by the next one at once.
   *
   * At most 2^31 − 1 ms, the longest a timer waits.
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
   * At most 2^31 − 1 ms, the longest a timer waits.
   *
   * @default 10_000
   */
  timeout?: number

  /**
   * The longest wait after failed requests to a point before the next
   * attempt, in ms. Waits start at 0.5 to 1 s and double, with jitter, up to
   * this.
   *
   * At most 2^31 − 1 ms, the longest a timer waits.
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

  /**
   * Which discovered peers are emitted and stored: `true` for those with at
   * least one address this node can dial (a transport for it, and the
   * connection gater lets it), `false` for all, or a function of your own
   *
   * @default true
   */
  peerFilter?: boolean | PeerFilter

  /**
   * The name of the peer-store tag put on discovered peers; it lasts as long
   * as their registration
   *
   * @default 'rendezvous'
   */
  tagName?: string

  /**
   * The value of that tag, 0 to 100
   *
   * @default 50
   */
  tagValue?: number

  /**
   * How to sign the records registered: `'standard'` (the libp2p
   * specification's, as js-libp2p, go-libp2p and nim-libp2p sign and
   * accept), `'legacy'` (rust-libp2p's), or `'auto'`: standard, with one
   * immediate retry in the legacy format at a point that answers a
   * REGISTER with `E_INVALID_SIGNED_PEER_RECORD` or no answer at all, which
   * is then remembered as legacy. Overridden per point in
   * `rendezvousPoints`.
   *
   * @default 'auto'
   */
  recordFormat?: RecordFormat
}

/**
 * A point as the options name it
 */
export interface PointOptions {
  peerId: PeerId
  multiaddr: Multiaddr
  recordFormat: RecordFormat
}

export type ResolvedRendezvousInit = Required<Omit<RendezvousInit, 'rendezvousPoints'>> & { rendezvousPoints: PointOptions[] }

const RECORD_FORMATS: RecordFormat[] = ['auto', 'standard', 'legacy']

/**
 * The options with their defaults, checked: throws `InvalidOptionError`
 * naming the first bad one
 */
export function resolveRendezvousInit (init: RendezvousInit): ResolvedRendezvousInit {
  const namespaces = checkNamespaces('namespaces', init.namespaces ?? [])
  const recordFormat = checkRecordFormat('recordFormat', init.recordFormat ?? 'auto')
  const options: ResolvedRendezvousInit = {
    rendezvousPoints: parsePoints(init.rendezvousPoints, recordFormat),
    namespaces,
    discoverNamespaces: checkNamespaces('discoverNamespaces', init.discoverNamespaces ?? namespaces),
    ttl: checkTtl('ttl', init.ttl ?? DEFAULT_TTL),
    discoverInterval: timerDelay('discoverInterval', init.discoverInterval ?? DEFAULT_DISCOVER_INTERVAL),
    discoverLimit: positiveInteger('discoverLimit', init.discoverLimit ?? DEFAULT_DISCOVER_LIMIT),
    protocol: checkProtocol(init.protocol ?? PROTOCOL),
    timeout: timerDelay('timeout', init.timeout ?? DEFAULT_TIMEOUT),
    maxReconnectDelay: timerDelay('maxReconnectDelay', init.maxReconnectDelay ?? DEFAULT_MAX_RECONNECT_DELAY),
    maxPeers: positiveInteger('maxPeers', init.maxPeers ?? DEFAULT_MAX_PEERS),
    peerFilter: checkPeerFilter(init.peerFilter ?? true),
    tagName: checkTagName(init.tagName ?? DEFAULT_TAG_NAME),
    tagValue: checkTagValue(init.tagValue ?? DEFAULT_TAG_VALUE),
    recordFormat
  }

  if (options.discoverLimit > DEFAULT_MAX_DISCOVER_LIMIT) {
    throw new InvalidOptionError('discoverLimit', `must be at most ${DEFAULT_MAX_DISCOVER_LIMIT}, what points serve`)
  }

  return options
}

function parsePoints (rendezvousPoints: RendezvousInit['rendezvousPoints'] | undefined, recordFormat: RecordFormat): PointOptions[] {
  if (!Array.isArray(rendezvousPoints) || rendezvousPoints.length === 0) {
    throw new InvalidOptionError('rendezvousPoints', 'at least one rendezvous point is required')
  }

  return rendezvousPoints.map(point => {
    const init = typeof point === 'string' || isMultiaddr(point) ? { multiaddr: point } : point

    if (init == null || typeof init !== 'object') {
      throw new InvalidOptionError('rendezvousPoints', `${String(point)} is not a multiaddr nor a point's options`)
    }

    let ma: Multiaddr

    try {
      ma = typeof init.multiaddr === 'string' ? multiaddr(init.multiaddr) : init.multiaddr

      if (!isMultiaddr(ma)) {
        throw new Error('neither a string nor a Multiaddr')
      }
    } catch (err: any) {
      throw new InvalidOptionError('rendezvousPoints', `${String(init.multiaddr)} is not a multiaddr: ${err.message}`)
    }

    const peerId = ma.getComponents().findLast(component => component.code === CODE_P2P)?.value

    if (peerId == null) {
      throw new InvalidOptionError('rendezvousPoints', `${ma} has no /p2p/<peer id>`)
    }

    return {
      peerId: peerIdFromString(peerId),
      multiaddr: ma,
      recordFormat: checkRecordFormat('rendezvousPoints', init.recordFormat ?? recordFormat)
    }
  })
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

/**
 * Whether a TTL in ms is one a client may ask for: whole ms, 1 s to 72 h
 */
export function isValidTtl (ttl: number): boolean {
  return Number.isSafeInteger(ttl) && ttl >= SECOND && ttl <= DEFAULT_MAX_TTL
}

function checkTtl (option: string, ttl: number): number {
  if (!isValidTtl(ttl)) {
    throw new InvalidOptionError(option, `must be between ${SECOND} and ${DEFAULT_MAX_TTL} ms, got ${ttl}`)
  }

  return ttl
}

function checkProtocol (protocol: string): string {
  if (typeof protocol !== 'string' || !protocol.startsWith('/')) {
    throw new InvalidOptionError('protocol', `must be a protocol id starting with "/", got ${String(protocol)}`)
  }

  return protocol
}

function checkPeerFilter (peerFilter: boolean | PeerFilter): boolean | PeerFilter {
  if (typeof peerFilter !== 'boolean' && typeof peerFilter !== 'function') {
    throw new InvalidOptionError('peerFilter', `must be true, false or a function, got ${String(peerFilter)}`)
  }

  return peerFilter
}

function checkTagName (tagName: string): string {
  if (typeof tagName !== 'string' || tagName === '') {
    throw new InvalidOptionError('tagName', `must be a non-empty string, got ${String(tagName)}`)
  }

  return tagName
}

function checkTagValue (tagValue: number): number {
  if (!Number.isInteger(tagValue) || tagValue < 0 || tagValue > 100) {
    throw new InvalidOptionError('tagValue', `must be an integer from 0 to 100, got ${tagValue}`)
  }

  return tagValue
}

function checkRecordFormat (option: string, recordFormat: RecordFormat): RecordFormat {
  if (!RECORD_FORMATS.includes(recordFormat)) {
    throw new InvalidOptionError(option, `recordFormat must be one of ${RECORD_FORMATS.map(format => `'${format}'`).join(', ')}, got ${String(recordFormat)}`)
  }

  return recordFormat
}

import { StreamResetError } from '@libp2p/interface'
import { pbStream, UnexpectedEOFError } from '@libp2p/utils'
import { DEFAULT_MAX_DISCOVER_LIMIT, DEFAULT_MAX_RESPONSE_SIZE, DEFAULT_MAX_TTL, SECOND } from '../constants.ts'
import { errorForStatus, InvalidResponseError, NoResponseError } from '../errors.ts'
import { Message } from '../pb/rendezvous.ts'
import type { AbortOptions, PeerId } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * What a client needs to send requests to a rendezvous point
 */
export interface RequestContext {
  connectionManager: ConnectionManager
  protocol: string
}

export interface RegisterRequest {
  namespace: string
  signedPeerRecord: Uint8Array<ArrayBuffer>
  /**
   * In ms; sent in whole seconds
   */
  ttl: number
}

export interface DiscoverRequest {
  namespace: string
  limit: number
  cookie?: Uint8Array<ArrayBuffer>
}

export interface DiscoverResult {
  registrations: Array<{ namespace: string, signedPeerRecord: Uint8Array, ttl: number }>
  /**
   * Absent when the point sent none: go points send none when nothing
   * matched and no cookie was sent
   */
  cookie?: Uint8Array<ArrayBuffer>
}

/**
 * Sends a REGISTER and returns the granted TTL in ms; throws the typed error
 * of any status other than `OK`
 */
export async function sendRegister (context: RequestContext, point: PeerId | Multiaddr, request: RegisterRequest, options: AbortOptions): Promise<number> {
  const response = await exchange(context, point, {
    type: Message.MessageType.REGISTER,
    register: {
      ns: request.namespace,
      signedPeerRecord: request.signedPeerRecord,
      ttl: BigInt(Math.floor(request.ttl / SECOND))
    }
  }, options)

  const registerResponse = response.registerResponse

  if (response.type !== Message.MessageType.REGISTER_RESPONSE || registerResponse == null) {
    throw new InvalidResponseError(`Expected a REGISTER_RESPONSE, got ${response.type}`)
  }

  throwIfNotOk(registerResponse)

  // a point that leaves the TTL out granted what was asked for
  return registerResponse.ttl == null ? request.ttl : ttlToMs(registerResponse.ttl)
}

/**
 * Sends an UNREGISTER, which has no response: the stream is closed once the
 * frame is flushed, so points that read one message and close get it whole
 */
export async function sendUnregister (context: RequestContext, point: PeerId | Multiaddr, namespace: string, options: AbortOptions): Promise<void> {
  const stream = await context.connectionManager.openStream(point, context.protocol, options)

  try {
    await pbStream(stream).pb(Message).write({
      type: Message.MessageType.UNREGISTER,
      unregister: { ns: namespace }
    }, options)
    await stream.close(options)
  } catch (err: any) {
    stream.abort(err)
    throw err
  }
}

/**
 * Sends a DISCOVER and returns one page of registrations; throws the typed
 * error of any status other than `OK`
 */
export async function sendDiscover (context: RequestContext, point: PeerId | Multiaddr, request: DiscoverRequest, options: AbortOptions): Promise<DiscoverResult> {
  const response = await exchange(context, point, {
    type: Message.MessageType.DISCOVER,
    discover: {
      ns: request.namespace,
      // never send 0: some points read it as "nothing"
      limit: request.limit > 0 ? BigInt(request.limit) : undefined,
      cookie: request.cookie
    }
  }, options)

  const discoverResponse = response.discoverResponse

  if (response.type !== Message.MessageType.DISCOVER_RESPONSE || discoverResponse == null) {
    throw new InvalidResponseError(`Expected a DISCOVER_RESPONSE, got ${response.type}`)
  }

  throwIfNotOk(discoverResponse)

  return {
    cookie: discoverResponse.cookie,
    registrations: discoverResponse.registrations.map(registration => ({
      // go points leave `ns` empty when a namespace was asked
      namespace: registration.ns == null || registration.ns === '' ? request.namespace : registration.ns,
      signedPeerRecord: registration.signedPeerRecord ?? new Uint8Array(),
      ttl: ttlToMs(registration.ttl ?? 0n)
    }))
  }
}

/**
 * One request and its response on a stream of their own, as rust and nim
 * points expect
 */
async function exchange (context: RequestContext, point: PeerId | Multiaddr, request: Message, options: AbortOptions): Promise<Message> {
  const stream = await context.connectionManager.openStream(point, context.protocol, options)

  try {
    const messages = pbStream(stream, { maxDataLength: DEFAULT_MAX_RESPONSE_SIZE }).pb(Message)
    await messages.write(request, options)
    await stream.close(options)

    return await messages.read({
      ...options,
      limits: {
        // we never ask for more than the spec's 1000 a page
        discoverResponse: { registrations: DEFAULT_MAX_DISCOVER_LIMIT }
      }
    })
  } catch (err: any) {
    stream.abort(err)

    // rust-libp2p points close or reset the stream on a request they
    // cannot decode
    if (err instanceof UnexpectedEOFError || err instanceof StreamResetError) {
      throw new NoResponseError('The rendezvous point ended the stream without a response')
    }

    throw err
  }
}

function throwIfNotOk (response: { status?: Message.ResponseStatus, statusText?: string }): void {
  // OK is 0, which some points leave out
  const status = response.status ?? Message.ResponseStatus.OK

  if (status !== Message.ResponseStatus.OK) {
    throw errorForStatus(status, response.statusText)
  }
}

/**
 * A wire TTL in seconds as ms, capped at the longest TTL the specification
 * allows, so a hostile point cannot overflow timers
 */
function ttlToMs (ttl: bigint): number {
  return ttl > BigInt(DEFAULT_MAX_TTL / SECOND) ? DEFAULT_MAX_TTL : Number(ttl) * SECOND
}

import { KEEP_ALIVE } from '@libp2p/interface'
import { Queue } from '@libp2p/utils'
import { CONNECTION_LINGER, MAX_CONCURRENT_REQUESTS_PER_POINT, SECOND } from '../constants.ts'
import { InvalidResponseError, InvalidSignedPeerRecordError, NoResponseError, RendezvousError, UnavailableError } from '../errors.ts'
import { backoff } from './backoff.ts'
import { sendDiscover, sendRegister, sendUnregister } from './requests.ts'
import type { OwnRecord } from './own-record.ts'
import type { DiscoverRequest, DiscoverResult, RequestContext } from './requests.ts'
import type { PeerRecordFormat } from '../signed-peer-record.ts'
import type { AbortOptions, Connection, Logger, PeerId, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * How to sign the records registered at a point: `'auto'` signs the
 * standard format, and falls back to rust-libp2p's legacy one for a point
 * that refuses it
 */
export type RecordFormat = 'auto' | PeerRecordFormat

export interface RendezvousPointComponents {
  connectionManager: ConnectionManager
  peerStore: PeerStore
}

export interface RendezvousPointInit {
  peerId: PeerId
  multiaddr: Multiaddr
  recordFormat: RecordFormat
  protocol: string
  /**
   * How long one request may take, in ms
   */
  timeout: number
  /**
   * The cap of the backoff after failed requests, in ms
   */
  maxReconnectDelay: number
}

export interface PointRequestOptions extends AbortOptions {
  /**
   * Sent on the component's own schedule rather than asked for by the user:
   * not sent while the point backs off, failing with `NotSentError`
   */
  background?: boolean

  /**
   * Cancels the request while it waits for its turn, failing with
   * `NotSentError`; once sent it runs to its end, unlike with `signal`: a
   * REGISTER's answer is what says whether the point holds a registration
   */
  cancel?: AbortSignal
}

/**
 * A request was not sent: its point backs off after failures, or it was
 * cancelled before its turn
 */
export class NotSentError extends Error {
  static name = 'NotSentError'
  name = 'NotSentError'
}

/**
 * One rendezvous point as the client sees it: its requests, sent a few at a
 * time over whatever connection there is, dialling when there is none; its
 * backoff after failures; the record format it takes; and the connection
 * this client opened to it, released once nothing is left to send.
 *
 * A connection that closes is nothing to this class: the next request dials.
 * Only a failed request counts, and only the failures that are the point's
 * (no connection, no answer, `E_UNAVAILABLE`) hold every background request
 * back; the point's answer to one request (another status, a response that
 * breaks the protocol) is that request's business.
 */
export class RendezvousPoint {
  readonly peerId: PeerId
  readonly multiaddr: Multiaddr
  private readonly components: RendezvousPointComponents
  private readonly init: RendezvousPointInit
  private readonly log: Logger
  private readonly context: RequestContext
  private readonly queue: Queue<unknown>
  /**
   * Failures of this point in a row, and until when they hold background
   * requests back (ms since the epoch)
   */
  private failures = 0
  private heldUntil = 0
  /**
   * Learned under `'auto'`: the point took a legacy record after refusing a
   * standard one
   */
  private legacy = false
  /**
   * Ids of the connections this client opened to the point
   */
  private readonly opened = new Set<string>()
  private lingerTimer?: ReturnType<typeof setTimeout>
  /**
   * Tasks running in `keepConnection()`
   */
  private keeping = 0

  constructor (components: RendezvousPointComponents, init: RendezvousPointInit, log: Logger) {
    this.components = components
    this.init = init
    this.peerId = init.peerId
    this.multiaddr = init.multiaddr
    this.log = log
    this.context = { connectionManager: components.connectionManager, protocol: init.protocol }
    this.queue = new Queue({ concurrency: MAX_CONCURRENT_REQUESTS_PER_POINT })
    this.queue.addEventListener('idle', () => { this.lingerThenRelease() })
  }

  /**
   * How long background requests are still held back, in ms (0: not)
   */
  heldFor (now = Date.now()): number {
    return Math.max(0, this.heldUntil - now)
  }

  /**
   * The format the next REGISTER is signed in
   */
  recordFormat (): PeerRecordFormat {
    if (this.init.recordFormat === 'auto') {
      return this.legacy ? 'legacy' : 'standard'
    }

    return this.init.recordFormat
  }

  /**
   * Registers this node and returns the granted TTL in ms. Under `'auto'`, a
   * point that refuses the standard record or ends the stream without an
   * answer gets one immediate retry with a legacy record, and is remembered
   * as legacy when it takes it.
   */
  async register (request: { namespace: string, ttl: number }, record: OwnRecord, options: PointRequestOptions = {}): Promise<number> {
    return this.request(async (signal) => {
      const format = this.recordFormat()
      let granted: number

      try {
        granted = await sendRegister(this.context, this.multiaddr, { ...request, signedPeerRecord: await record.envelope(format) }, { signal })
      } catch (err: any) {
        if (this.init.recordFormat !== 'auto' || format === 'legacy' || !(err instanceof InvalidSignedPeerRecordError || err instanceof NoResponseError)) {
          throw err
        }

        this.log('%p answered a standard record with %e, trying the legacy format', this.peerId, err)

        try {
          granted = await sendRegister(this.context, this.multiaddr, { ...request, signedPeerRecord: await record.envelope('legacy') }, { signal })
        } catch (legacyErr: any) {
          this.log('%p refused the legacy record too - %e', this.peerId, legacyErr)
          throw err
        }

        this.log('%p takes legacy records', this.peerId)
        this.legacy = true
      }

      // a TTL of 0 would have the registration refreshed in a loop
      if (granted < SECOND) {
        throw new InvalidResponseError(`The rendezvous point granted a TTL of ${granted} ms`)
      }

      return granted
    }, options)
  }

  /**
   * Runs `task`, keeping the connection this client opened for as long as
   * it runs, so that its requests share one connection: a round of polls
   * that verifies and stores a page before it asks for the next
   */
  async keepConnection <T> (task: () => Promise<T>): Promise<T> {
    this.keeping++
    clearTimeout(this.lingerTimer)

    try {
      return await task()
    } finally {
      this.keeping--
      this.lingerThenRelease()
    }
  }

  async unregister (namespace: string, options: PointRequestOptions = {}): Promise<void> {
    await this.request(async (signal) => sendUnregister(this.context, this.multiaddr, namespace, { signal }), options)
  }

  async discover (request: DiscoverRequest, options: PointRequestOptions = {}): Promise<DiscoverResult> {
    return this.request(async (signal) => sendDiscover(this.context, this.multiaddr, request, { signal }), options)
  }

  /**
   * Cancels every request, queued or in flight, forgets the backoff, and
   * closes the connections this client opened that nothing else uses
   */
  async stop (): Promise<void> {
    this.queue.abort()
    clearTimeout(this.lingerTimer)
    this.failures = 0
    this.heldUntil = 0
    await this.release()
    this.opened.clear()
  }

  /**
   * Runs one request in the queue, bounded by the timeout, and keeps the
   * point's failure count
   */
  private async request <T> (send: (signal: AbortSignal) => Promise<T>, options: PointRequestOptions): Promise<T> {
    // failures that happen together (requests in flight when the point went
    // away) count once
    const failuresBefore = this.failures

    const result = await this.queue.add(async ({ signal: jobSignal }) => {
      clearTimeout(this.lingerTimer)

      if (options.cancel?.aborted === true) {
        throw new NotSentError('The request was cancelled before it was sent')
      }

      if (options.background === true && this.heldFor() > 0) {
        throw new NotSentError(`${this.peerId} is backing off`)
      }

      const signals = [AbortSignal.timeout(this.init.timeout)]

      for (const signal of [jobSignal, options.signal]) {
        if (signal != null) {
          signals.push(signal)
        }
      }

      const connected = this.components.connectionManager.getConnections(this.peerId).length > 0

      try {
        const result = await send(AbortSignal.any(signals))
        this.failures = 0
        this.heldUntil = 0
        return result
      } catch (err: any) {
        if (!isPointFailure(err)) {
          // the point answered: it is up
          this.failures = 0
          this.heldUntil = 0
        } else if (options.signal?.aborted !== true && jobSignal?.aborted !== true) {
          this.failures = Math.max(this.failures, failuresBefore + 1)
          const delay = backoff(this.failures, this.init.maxReconnectDelay)
          this.heldUntil = Date.now() + delay
          this.log('request to %p failed %d times in a row, backing off %d ms - %e', this.peerId, this.failures, Math.round(delay), err)
        }

        throw err
      } finally {
        if (!connected) {
          this.components.connectionManager.getConnections(this.peerId).forEach(connection => this.opened.add(connection.id))
        }
      }
    }, { signal: options.signal })

    return result as T
  }

  private lingerThenRelease (): void {
    clearTimeout(this.lingerTimer)

    if (this.opened.size === 0 || this.keeping > 0) {
      return
    }

    this.lingerTimer = setTimeout(() => {
      this.release(true).catch(err => {
        this.log('could not release the connection to %p - %e', this.peerId, err)
      })
    }, CONNECTION_LINGER)
  }

  private idle (): boolean {
    return this.queue.size === 0 && this.keeping === 0
  }

  /**
   * Closes the connections this client opened to the point, unless another
   * protocol has a stream on them or the peer is tagged keep-alive (a relay
   * reservation, or the user's wish to hold it); `whenIdle`: only while no
   * request wants them
   */
  private async release (whenIdle = false): Promise<void> {
    const ours = this.components.connectionManager.getConnections(this.peerId)
      .filter(connection => this.opened.has(connection.id) && connection.status === 'open')
    this.opened.clear()

    if (ours.length === 0 || (whenIdle && !this.idle()) || await this.keptAlive()) {
      ours.forEach(connection => this.opened.add(connection.id))
      return
    }

    // a request may have come while the peer store was read
    if (whenIdle && !this.idle()) {
      ours.forEach(connection => this.opened.add(connection.id))
      return
    }

    await Promise.all(ours.map(async connection => {
      // rendezvous streams still closing are ours, done with
      if (connection.streams.some(stream => stream.protocol !== this.init.protocol)) {
        this.opened.add(connection.id)
        return
      }

      await closeConnection(connection, this.init.timeout)
    }))
  }

  private async keptAlive (): Promise<boolean> {
    try {
      const peer = await this.components.peerStore.get(this.peerId)
      return [...peer.tags.keys()].some(tag => tag.startsWith(KEEP_ALIVE))
    } catch {
      return false
    }
  }
}

/**
 * Whether an error says the point cannot be reached or cannot serve now,
 * rather than that it refused one request
 */
function isPointFailure (err: unknown): boolean {
  return err instanceof UnavailableError || !(err instanceof RendezvousError || err instanceof InvalidResponseError)
}

async function closeConnection (connection: Connection, timeout: number): Promise<void> {
  try {
    await connection.close({ signal: AbortSignal.timeout(timeout) })
  } catch (err: any) {
    connection.abort(err)
  }
}

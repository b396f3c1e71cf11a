import { MIN_REFRESH_TTL, REFRESH_RATIO } from '../constants.ts'
import { RendezvousError } from '../errors.ts'
import { backoff } from './backoff.ts'
import { NotSentError } from './rendezvous-point.ts'
import type { OwnRecord } from './own-record.ts'
import type { PointRequestOptions, RendezvousPoint } from './rendezvous-point.ts'
import type { AbortOptions, Logger } from '@libp2p/interface'

export interface PointRegistrationsInit {
  point: Pick<RendezvousPoint, 'peerId' | 'register' | 'unregister' | 'heldFor'>
  record: OwnRecord
  /**
   * The namespaces to keep registered, with the TTL asked for each (ms):
   * the component's, shared by every point
   */
  wanted: ReadonlyMap<string, number>
  maxReconnectDelay: number
  log: Logger
}

/**
 * This node's registration in one namespace at one point
 */
interface Registration {
  timer?: ReturnType<typeof setTimeout>
  /**
   * Failures in a row that were this registration's own (the point refused
   * it), for its backoff
   */
  failures: number
  /**
   * The point may hold it: a REGISTER was sent and no UNREGISTER since
   */
  sent: boolean
  /**
   * Its REGISTERs and UNREGISTERs, one after another: an UNREGISTER sent
   * while a REGISTER is in flight could reach the point first
   */
  lane: Promise<unknown>
  /**
   * A background REGISTER on its way: another one asked for meanwhile (the
   * point found empty while a retry is in flight) joins it
   */
  refreshing?: Promise<void>
  /**
   * When its last REGISTER was sent, and when the point last acknowledged
   * one (ms since the epoch)
   */
  sentAt?: number
  acknowledgedAt?: number
}

/**
 * This node's last registration in a namespace at a point that took it
 */
export interface LastRegistration {
  /**
   * When its REGISTER was sent (ms since the epoch)
   */
  sentAt: number

  /**
   * When the point acknowledged it (ms since the epoch)
   */
  acknowledgedAt: number
}

/**
 * This node's registrations at one point: sent when asked for, refreshed
 * before they run out, retried with backoff when they fail, and removed
 * when no longer wanted, each REGISTER and UNREGISTER of a namespace in the
 * order they were decided
 */
export class PointRegistrations {
  private readonly init: PointRegistrationsInit
  private readonly log: Logger
  private readonly registrations = new Map<string, Registration>()
  private stopping = new AbortController()

  constructor (init: PointRegistrationsInit) {
    this.init = init
    this.log = init.log
  }

  /**
   * Registers every wanted namespace now, in the background
   */
  start (): void {
    this.stopping = new AbortController()
    this.registerAll()
  }

  /**
   * Registers every wanted namespace again now, in the background: the point
   * lost them, or this node's addresses changed
   */
  registerAll (): void {
    // at once, not on a timer: the REGISTERs go out over the connection the
    // poll that found the point empty still has
    for (const namespace of this.init.wanted.keys()) {
      void this.refresh(namespace)
    }
  }

  /**
   * Registers `namespace` now and keeps it fresh while it is wanted.
   * Resolves with the granted TTL in ms; on failure, retries later and
   * rejects.
   */
  async register (namespace: string, options: PointRequestOptions = {}): Promise<number> {
    const registration = this.entry(namespace)
    clearTimeout(registration.timer)

    return this.inLane(registration, async () => {
      const ttl = this.init.wanted.get(namespace)

      if (ttl == null || this.stopping.signal.aborted) {
        throw new NotSentError(`${namespace} is no longer to be registered`)
      }

      const sentBefore = registration.sent
      registration.sent = true
      const sentAt = Date.now()

      try {
        const granted = await this.init.point.register({ namespace, ttl }, this.init.record, { ...options, cancel: this.stopping.signal })
        registration.sentAt = sentAt
        registration.failures = 0
        registration.acknowledgedAt = Date.now()
        this.log('registered in %s at %p for %d ms', namespace, this.init.point.peerId, granted)
        this.schedule(namespace, refreshDelay(granted, ttl))

        return granted
      } catch (err: any) {
        if (err instanceof NotSentError || err instanceof RendezvousError) {
          // not sent, or refused: what the point holds did not change
          registration.sent = sentBefore
        }

        this.log('registering in %s at %p failed - %e', namespace, this.init.point.peerId, err)
        this.retryLater(namespace, registration)
        throw err
      }
    })
  }

  /**
   * Stops refreshing `namespace` and removes it from the point if the point
   * may hold it, after any REGISTER in flight for it. Failures are logged:
   * the registration lapses at the point by itself.
   */
  async unregister (namespace: string, options: AbortOptions = {}): Promise<void> {
    const registration = this.registrations.get(namespace)

    if (registration == null) {
      return
    }

    clearTimeout(registration.timer)

    await this.inLane(registration, async () => {
      if (this.init.wanted.has(namespace) && !this.stopping.signal.aborted) {
        // registered again meanwhile
        return
      }

      if (registration.sent) {
        await this.init.point.unregister(namespace, options)
        registration.sent = false
      }

      if (!this.init.wanted.has(namespace)) {
        this.registrations.delete(namespace)
      }
    }).catch((err: any) => {
      this.log('unregistering %s at %p failed - %e', namespace, this.init.point.peerId, err)
    })
  }

  /**
   * Stops every refresh, cancels the REGISTERs not yet sent, and removes
   * every registration the point may hold, each after its REGISTER in flight
   * if any, within `options.signal`
   */
  async stop (options: AbortOptions = {}): Promise<void> {
    this.stopping.abort()

    await Promise.all([...this.registrations.keys()].map(async namespace => this.unregister(namespace, options)))
    this.registrations.clear()
  }

  /**
   * This node's last registration in `namespace` the point acknowledged, if
   * it holds one
   */
  lastRegistration (namespace: string): LastRegistration | undefined {
    const { sent, sentAt, acknowledgedAt } = this.registrations.get(namespace) ?? {}

    if (sent !== true || sentAt == null || acknowledgedAt == null) {
      return undefined
    }

    return { sentAt, acknowledgedAt }
  }

  private async refresh (namespace: string): Promise<void> {
    if (!this.init.wanted.has(namespace) || this.stopping.signal.aborted) {
      return
    }

    if (!this.init.record.hasAddresses()) {
      // registered when the node has an address: see registerAll()
      this.log('no address to register in %s at %p yet', namespace, this.init.point.peerId)
      return
    }

    const registration = this.entry(namespace)

    if (registration.refreshing == null) {
      const refreshing = this.register(namespace, { background: true }).then(() => {}, () => {})
      registration.refreshing = refreshing
      void refreshing.finally(() => {
        if (registration.refreshing === refreshing) {
          registration.refreshing = undefined
        }
      })
    }

    await registration.refreshing
  }

  /**
   * Tries again after the point's backoff when the point failed, else after
   * this registration's own
   */
  private retryLater (namespace: string, registration: Registration): void {
    let delay = this.init.point.heldFor()

    if (delay === 0) {
      registration.failures++
      delay = backoff(registration.failures, this.init.maxReconnectDelay)
    }

    this.schedule(namespace, delay)
  }

  private schedule (namespace: string, delay: number): void {
    if (!this.init.wanted.has(namespace) || this.stopping.signal.aborted) {
      return
    }

    const registration = this.entry(namespace)
    clearTimeout(registration.timer)
    registration.timer = setTimeout(() => {
      registration.timer = undefined
      void this.refresh(namespace)
    }, delay)
  }

  private entry (namespace: string): Registration {
    let registration = this.registrations.get(namespace)

    if (registration == null) {
      registration = { failures: 0, sent: false, lane: Promise.resolve() }
      this.registrations.set(namespace, registration)
    }

    return registration
  }

  private async inLane <T> (registration: Registration, task: () => Promise<T>): Promise<T> {
    const result = registration.lane.then(task, task)
    registration.lane = result.catch(() => {})
    return result
  }
}

/**
 * When to register again, in ms: at 80 % of the granted TTL, but a point
 * granting far less than asked (a second for two hours) cannot make it
 * sooner than 80 % of 10 s, or of the TTL asked when that is shorter
 */
export function refreshDelay (granted: number, asked: number): number {
  return REFRESH_RATIO * Math.max(granted, Math.min(asked, MIN_REFRESH_TTL))
}

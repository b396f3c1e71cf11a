import { InvalidCookieError, InvalidResponseError, RendezvousError, UnavailableError } from '../errors.ts'
import { backoff } from './backoff.ts'
import { walkPages } from './paging.ts'
import { NotSentError } from './rendezvous-point.ts'
import type { DiscoveredRegistration } from './peer-intake.ts'
import type { PointRegistrations } from './point-registrations.ts'
import type { RendezvousPoint } from './rendezvous-point.ts'
import type { Logger, PeerId } from '@libp2p/interface'

export interface PointPollerInit {
  point: Pick<RendezvousPoint, 'peerId' | 'discover' | 'heldFor' | 'keepConnection'>
  registrations: Pick<PointRegistrations, 'lastRegistration' | 'registerAll'>
  /**
   * The namespaces to poll
   */
  namespaces: string[]
  /**
   * The time from the start of one round of polls to the next, in ms: up to
   * a tenth less, at random, so clients whose rounds fell together (they
   * were refused together by a busy point) drift apart
   */
  interval: number
  /**
   * The page size to ask for
   */
  limit: number
  maxReconnectDelay: number
  ownPeerId: PeerId
  /**
   * Takes each registration a poll brings in; resolves with the peer id of
   * its record when it verifies
   */
  consider(registration: DiscoveredRegistration): Promise<PeerId | undefined>
  log: Logger

  /**
   * @default Math.random
   */
  random?(): number
}

/**
 * The polls of one namespace at one point
 */
interface NamespacePolls {
  /**
   * Cookies are scoped to (point, namespace)
   */
  cookie?: Uint8Array<ArrayBuffer>
  /**
   * Failures in a row that were this namespace's own (the point refused
   * it), and until when they keep it out of the rounds (ms since the epoch)
   */
  failures: number
  retryAt: number
  /**
   * When a page last listed our own registration, and the acknowledgement
   * of it last checked for in a poll (ms since the epoch)
   */
  ownListedAt?: number
  checkedAcknowledgement?: number
}

/**
 * Polls every namespace at one point, all in one round every `interval`
 * (so they share one connection), with cookies so each poll brings only
 * what is new. It also notices when the point lost this node's
 * registrations, and has them registered again: the point refuses a cookie
 * it issued (it restarted with a new secret), or a poll that must list our
 * registration, the first after the point acknowledged it, does not.
 */
export class PointPoller {
  private readonly init: PointPollerInit
  private readonly log: Logger
  private readonly polls = new Map<string, NamespacePolls>()
  private timer?: ReturnType<typeof setTimeout>
  private stopping = new AbortController()
  /**
   * Cleared when the point twice in a row did not list a registration it
   * had just acknowledged: a point may leave the asker out of its answers
   */
  private listsOwnRegistrations = true
  private missedOwnRegistrations = 0
  /**
   * When the point was last found to have lost our registrations: polls in
   * flight then tell the same news, and must not register everything again
   */
  private lostAt = 0

  constructor (init: PointPollerInit) {
    this.init = init
    this.log = init.log
  }

  /**
   * Polls now, then every interval
   */
  start (): void {
    this.stopping = new AbortController()

    if (this.init.namespaces.length > 0) {
      this.schedule(0)
    }
  }

  stop (): void {
    this.stopping.abort()
    clearTimeout(this.timer)
    this.timer = undefined
    this.polls.clear()
  }

  private schedule (delay: number): void {
    clearTimeout(this.timer)

    if (this.stopping.signal.aborted) {
      return
    }

    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.round()
    }, delay)
  }

  private async round (): Promise<void> {
    const startedAt = Date.now()
    const due = this.init.namespaces.filter(namespace => this.entry(namespace).retryAt <= startedAt)

    await this.init.point.keepConnection(async () => {
      await Promise.all(due.map(async namespace => this.poll(namespace)))
    })

    // rounds start an interval apart, however long one takes; a point that
    // failed is polled again as soon as its backoff allows
    const held = this.init.point.heldFor()
    const interval = this.init.interval * (1 - (this.init.random ?? Math.random)() / 10)
    this.schedule(held > 0 ? held : Math.max(0, startedAt + interval - Date.now()))
  }

  private async poll (namespace: string): Promise<void> {
    const polls = this.entry(namespace)
    const startedAt = Date.now()
    const own = this.init.registrations.lastRegistration(namespace)
    // the first poll to start after the point acknowledged our registration
    // must have it listed, by now or before: a poll in flight then may have
    // listed it and moved the cookie past it
    const checksOwn = this.listsOwnRegistrations && own != null && own.acknowledgedAt < startedAt && polls.checkedAcknowledgement !== own.acknowledgedAt

    try {
      const ended = await this.fetchNew(namespace, polls, startedAt, async registration => {
        const peerId = await this.init.consider(registration)

        if (peerId?.equals(this.init.ownPeerId) === true) {
          polls.ownListedAt = Date.now()
        }
      })

      polls.failures = 0
      polls.retryAt = 0

      if (checksOwn && ended) {
        polls.checkedAcknowledgement = own.acknowledgedAt
        this.checkedOwnRegistration(namespace, (polls.ownListedAt ?? 0) >= own.sentAt, startedAt)
      }
    } catch (err: any) {
      if (this.stopping.signal.aborted || err instanceof NotSentError) {
        return
      }

      this.log('polling %s at %p failed - %e', namespace, this.init.point.peerId, err)

      // the point's own failures hold the whole round back
      if (err instanceof InvalidResponseError || (err instanceof RendezvousError && !(err instanceof UnavailableError))) {
        polls.failures++
        polls.retryAt = Date.now() + backoff(polls.failures, this.init.maxReconnectDelay)
      }
    }
  }

  /**
   * Fetches what is new in a namespace since its cookie, starting over when
   * the point refuses the cookie. Resolves with whether the walk reached the
   * end of what the point has.
   */
  private async fetchNew (namespace: string, polls: NamespacePolls, startedAt: number, take: (registration: DiscoveredRegistration) => Promise<void>): Promise<boolean> {
    const resumed = polls.cookie != null

    try {
      return await this.walk(namespace, polls, take)
    } catch (err: any) {
      if (!(err instanceof InvalidCookieError) || !resumed) {
        throw err
      }

      this.pointLostRegistrations(`${this.init.point.peerId} refused its own cookie for ${namespace}`, startedAt)
      polls.cookie = undefined
      return this.walk(namespace, polls, take)
    }
  }

  private async walk (namespace: string, polls: NamespacePolls, take: (registration: DiscoveredRegistration) => Promise<void>): Promise<boolean> {
    const fetchPage = async (cookie?: Uint8Array<ArrayBuffer>): ReturnType<RendezvousPoint['discover']> =>
      this.init.point.discover({ namespace, limit: this.init.limit, cookie }, { background: true, signal: this.stopping.signal })

    // the next poll resumes from the cookie, so one walk stops at the first
    // empty page
    for await (const page of walkPages(fetchPage, { cookie: polls.cookie, maxEmptyPages: 1 })) {
      if (page.cookie != null && page.cookie.byteLength > 0) {
        polls.cookie = page.cookie
      }

      for (const registration of page.registrations) {
        await take(registration)
      }

      if (page.last) {
        return true
      }
    }

    return false
  }

  private checkedOwnRegistration (namespace: string, listed: boolean, startedAt: number): void {
    if (listed) {
      this.missedOwnRegistrations = 0
      return
    }

    if (++this.missedOwnRegistrations === 2) {
      this.log('%p does not list our own registrations, no longer checking them', this.init.point.peerId)
      this.listsOwnRegistrations = false
      return
    }

    this.pointLostRegistrations(`our registration in ${namespace} is missing at ${this.init.point.peerId}`, startedAt)
  }

  /**
   * The point restarted empty, or otherwise lost what we registered: every
   * cookie it issued is void, and every namespace is registered there again,
   * once for all the polls that started before
   */
  private pointLostRegistrations (reason: string, pollStartedAt: number): void {
    if (pollStartedAt <= this.lostAt) {
      return
    }

    this.log('%s: registering there again', reason)
    this.lostAt = Date.now()

    for (const polls of this.polls.values()) {
      polls.cookie = undefined
    }

    this.init.registrations.registerAll()
  }

  private entry (namespace: string): NamespacePolls {
    let polls = this.polls.get(namespace)

    if (polls == null) {
      polls = { failures: 0, retryAt: 0 }
      this.polls.set(namespace, polls)
    }

    return polls
  }
}

import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { expect } from 'aegir/chai'
import sinon from 'sinon'
import { PointPoller } from '../../src/client/point-poller.ts'
import { InvalidCookieError, InvalidNamespaceError } from '../../src/errors.ts'
import { newPrivateKey } from '../fixtures/nodes.ts'
import type { LastRegistration } from '../../src/client/point-registrations.ts'
import type { DiscoverRequest, DiscoverResult } from '../../src/client/requests.ts'
import type { PeerId } from '@libp2p/interface'

const interval = 1000

/**
 * A registration of a peer known by its index in `peers`
 */
function registration (peer: number): DiscoverResult['registrations'][number] {
  return { namespace: 'ns', signedPeerRecord: new Uint8Array([peer]), ttl: 60_000 }
}

function cookie (n: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([n])
}

describe('point poller', () => {
  let clock: sinon.SinonFakeTimers
  let peers: PeerId[]
  let requests: Array<DiscoverRequest & { at: number }>
  let answer: (request: DiscoverRequest) => Promise<DiscoverResult>
  let heldUntil: number
  let acknowledged: Map<string, LastRegistration>
  let registerAll: sinon.SinonSpy
  let considered: number[]
  let poller: PointPoller

  /**
   * The point acknowledges our registration now, sent `ago` ms before
   */
  function acknowledge (namespace: string, ago = 1): void {
    acknowledged.set(namespace, { sentAt: Date.now() - ago, acknowledgedAt: Date.now() })
  }

  function start (namespaces: string[]): void {
    poller = new PointPoller({
      point: {
        peerId: peers[0],
        heldFor: () => Math.max(0, heldUntil - Date.now()),
        keepConnection: async (task) => task(),
        discover: async (request) => {
          requests.push({ ...request, at: Date.now() })
          return answer(request)
        }
      },
      registrations: {
        lastRegistration: (namespace) => acknowledged.get(namespace),
        registerAll
      },
      namespaces,
      interval,
      limit: 2,
      maxReconnectDelay: 60_000,
      ownPeerId: peers[1],
      consider: async (r) => {
        considered.push(r.signedPeerRecord[0])
        return peers[r.signedPeerRecord[0]]
      },
      log: defaultLogger().forComponent('test'),
      random: () => 0
    })
    poller.start()
  }

  beforeEach(async () => {
    // peers[1] is this node
    peers = await Promise.all([0, 1, 2, 3, 4].map(async () => peerIdFromPrivateKey(await newPrivateKey())))
    clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['setTimeout', 'clearTimeout', 'Date'] })
    requests = []
    heldUntil = 0
    acknowledged = new Map()
    registerAll = sinon.spy()
    considered = []
    answer = async (request) => ({ registrations: [], cookie: request.cookie ?? cookie(1) })
  })

  afterEach(() => {
    poller.stop()
    clock.restore()
  })

  it('polls every namespace in one round, then a round every interval, each from its own cookie', async () => {
    answer = async (request) => ({ registrations: [], cookie: cookie(request.namespace === 'a' ? 10 : 20) })
    start(['a', 'b'])

    await clock.tickAsync(0)
    expect(requests.map(r => [r.namespace, r.cookie?.[0]])).to.deep.equal([['a', undefined], ['b', undefined]])

    await clock.tickAsync(interval - 1)
    expect(requests).to.have.lengthOf(2)
    await clock.tickAsync(1)
    expect(requests.slice(2).map(r => [r.namespace, r.cookie?.[0]])).to.deep.equal([['a', 10], ['b', 20]])
  })

  it('follows pages at once while the cookie moves, short ones too, and stops at an empty page', async () => {
    const pages: DiscoverResult[] = [
      { registrations: [registration(2), registration(3)], cookie: cookie(1) },
      { registrations: [registration(4)], cookie: cookie(2) },
      { registrations: [], cookie: cookie(3) }
    ]
    answer = async () => pages.shift() ?? { registrations: [], cookie: cookie(3) }
    start(['ns'])

    await clock.tickAsync(0)
    expect(requests.map(r => r.cookie?.[0])).to.deep.equal([undefined, 1, 2])
    expect(considered).to.deep.equal([2, 3, 4])

    // the next round resumes from the last cookie
    await clock.tickAsync(interval)
    expect(requests.map(r => r.cookie?.[0])).to.deep.equal([undefined, 1, 2, 3])
  })

  it('has everything registered again, once, when the point refuses its own cookie, and starts over', async () => {
    start(['a', 'b'])
    await clock.tickAsync(0)

    // the point restarts with a new secret
    answer = async (request) => {
      if (request.cookie?.[0] === 1) {
        throw new InvalidCookieError()
      }

      return { registrations: [], cookie: cookie(5) }
    }
    await clock.tickAsync(interval)

    expect(registerAll.callCount).to.equal(1)
    expect(requests.slice(2).map(r => [r.namespace, r.cookie?.[0]])).to.deep.equal([['a', 1], ['b', 1], ['a', undefined], ['b', undefined]])
  })

  it('has everything registered again when the first poll after the point acknowledged our registration does not list it', async () => {
    answer = async () => ({ registrations: [registration(2)], cookie: cookie(1) })
    start(['ns'])
    await clock.tickAsync(0)

    // acknowledged before a poll: that poll lists it, all is well
    acknowledge('ns')
    answer = async (request) => request.cookie?.[0] === 2 ? { registrations: [], cookie: cookie(2) } : { registrations: [registration(1), registration(2)], cookie: cookie(2) }
    await clock.tickAsync(interval)
    expect(registerAll.callCount).to.equal(0)

    // acknowledged again (a refresh, sent after that poll), and the point
    // does not list it: lost
    await clock.tickAsync(10)
    acknowledge('ns')
    answer = async () => ({ registrations: [], cookie: cookie(2) })
    await clock.tickAsync(interval)
    expect(registerAll.callCount).to.equal(1)

    // only the first poll after an acknowledgement checks
    await clock.tickAsync(interval)
    expect(registerAll.callCount).to.equal(1)
  })

  it('takes our registration as listed when a poll in flight as the point took it listed it', async () => {
    answer = async () => ({ registrations: [registration(1)], cookie: cookie(1) })
    start(['ns'])
    await clock.tickAsync(0)

    // that poll's page came after the REGISTER was sent, before its answer
    await clock.tickAsync(5)
    acknowledge('ns', 10)
    answer = async () => ({ registrations: [], cookie: cookie(1) })
    await clock.tickAsync(interval)

    expect(requests.at(-1)?.at).to.equal(1_000_000 + interval)
    expect(registerAll.callCount).to.equal(0)
  })

  it('stops checking at a point that twice in a row does not list a registration it acknowledged', async () => {
    start(['ns'])

    for (let i = 0; i < 4; i++) {
      await clock.tickAsync(1)
      acknowledge('ns')
      await clock.tickAsync(interval)
    }

    expect(registerAll.callCount).to.equal(1)
  })

  it('backs off a namespace the point refuses, polling the others every round', async () => {
    answer = async (request) => {
      if (request.namespace === 'bad') {
        throw new InvalidNamespaceError()
      }

      return { registrations: [], cookie: cookie(1) }
    }
    start(['bad', 'good'])
    await clock.tickAsync(4 * interval)

    const polls = (namespace: string): number => requests.filter(r => r.namespace === namespace).length
    expect(polls('good')).to.equal(5)
    // rounds at 0, 1 s (wait 0.5 to 1 s passed), then 2 s at most 3 s
    expect(polls('bad')).to.be.within(2, 3)
  })

  it('starts rounds up to a tenth of the interval sooner, at random', async () => {
    start(['ns'])
    poller.stop()
    poller = new PointPoller({ ...(poller as any).init, random: () => 0.5 })
    poller.start()
    await clock.tickAsync(0)
    requests = []

    await clock.tickAsync(interval * 0.95 - 1)
    expect(requests).to.be.empty()
    await clock.tickAsync(1)
    expect(requests).to.have.lengthOf(1)
  })

  it('polls a point that failed again when its backoff ends, sooner or later than the interval', async () => {
    answer = async () => {
      heldUntil = Date.now() + interval / 2
      throw new Error('no connection')
    }
    start(['ns'])
    await clock.tickAsync(interval / 2)
    expect(requests).to.have.lengthOf(2)
  })

  it('waits for the point\'s backoff when it is longer than the interval', async () => {
    answer = async () => {
      heldUntil = Date.now() + 5 * interval
      throw new Error('no connection')
    }
    start(['ns'])
    await clock.tickAsync(0)
    answer = async () => ({ registrations: [], cookie: cookie(1) })

    await clock.tickAsync(5 * interval - 1)
    expect(requests).to.have.lengthOf(1)
    await clock.tickAsync(1)
    expect(requests).to.have.lengthOf(2)
  })

  it('leaves no timer and sends nothing once stopped', async () => {
    start(['ns'])
    await clock.tickAsync(0)
    poller.stop()

    expect(clock.countTimers()).to.equal(0)
    await clock.tickAsync(10 * interval)
    expect(requests).to.have.lengthOf(1)
  })
})

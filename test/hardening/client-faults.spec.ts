/**
 * Faults a rendezvous client must survive, over real libp2p nodes (memory
 * transport, noise, yamux): a point that restarts, one that takes requests
 * and never answers, dropped connections, and a point that stays down.
 */
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { Uint8ArrayList } from 'uint8arraylist'
import { PROTOCOL } from '../../src/constants.ts'
import { rendezvous } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { findDiscovery, recordDiscoveries, startPoint } from '../fixtures/discovery.ts'
import { createNode } from '../fixtures/nodes.ts'
import { closed, parseFrames, within } from './helpers.ts'
import type { Rendezvous, RendezvousInit, RendezvousServerInit } from '../../src/index.ts'
import type { Point } from '../fixtures/discovery.ts'
import type { Libp2p, PeerInfo, Stream } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Resolves once `node`'s rendezvous component has emitted `peer`
 */
async function emits (node: Libp2p, peer: Libp2p, events: PeerInfo[]): Promise<void> {
  while (!events.some(event => event.id.equals(peer.peerId))) {
    await pEvent(findDiscovery(node), 'peer')
  }
}

interface Swallowed {
  stream: Stream
  /**
   * The types of the requests read so far
   */
  types: Array<Message.MessageType | undefined>
  /**
   * When the stream was opened
   */
  times: number[]
}

/**
 * Reads everything a stream sends and never writes
 */
function swallow (stream: Stream): Swallowed {
  const entry: Swallowed = { stream, types: [], times: [Date.now()] }
  const received = new Uint8ArrayList()

  stream.addEventListener('message', (event) => {
    received.append(event.data)

    try {
      entry.types = parseFrames(received).messages.map(message => message.type)
    } catch {
      entry.types = [undefined]
    }
  })

  return entry
}

describe('rendezvous client faults', () => {
  let point: Point
  let nodes: Libp2p[]

  async function newClient (init: Partial<RendezvousInit> = {}, address: Multiaddr = point.address): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
    const node = await createNode<{ rendezvous: Rendezvous }>({
      services: {
        rendezvous: rendezvous({
          rendezvousPoints: [address],
          namespaces: ['ns'],
          discoverInterval: 50,
          maxReconnectDelay: 200,
          ...init
        })
      }
    })
    nodes.push(node)
    return node
  }

  /**
   * Resolves once `node` has registered at the point more than `times` times
   */
  async function registeredMoreThan (node: Libp2p, times: number): Promise<void> {
    const { store } = point
    await store.until(() => store.registered(node) > times)
  }

  async function restartPoint (init: RendezvousServerInit = {}): Promise<void> {
    const identity = { privateKey: point.privateKey, address: point.address }
    await point.node.stop()
    point = await startPoint(init, identity)
  }

  beforeEach(async () => {
    nodes = []
    point = await startPoint()
  })

  afterEach(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
    await point.node.stop()
  })

  it('re-registers and resumes polling after each of two point restarts, and keeps finding newcomers', async () => {
    const [a, b] = [await newClient(), await newClient()]
    const events = recordDiscoveries(a)
    await emits(a, b, events)

    for (let restart = 0; restart < 2; restart++) {
      await restartPoint()
      const { store } = point

      // the restarted point is empty: both register again, and poll it
      await store.until(() => store.registered(a) > 0 && store.registered(b) > 0)
      await store.until(() => store.discovers >= 4)
      expect(store.count()).to.equal(2)

      // the old cookies are refused, polling starts over, and a newcomer is
      // found
      const newcomer = await newClient()
      await emits(a, newcomer, events)
      await newcomer.stop()
    }
  })

  describe('a point that takes requests and never answers', () => {
    const timeout = 300
    let blackHole: Libp2p
    let streams: Swallowed[]

    beforeEach(async () => {
      streams = []
      blackHole = await createNode()
      nodes.push(blackHole)

      await blackHole.handle(PROTOCOL, (stream) => {
        streams.push(swallow(stream))
      })
    })

    it('rejects register() and discover() within the timeout, leaving no stream open', async () => {
      const client = await newClient({ namespaces: [], discoverNamespaces: [], timeout }, blackHole.getMultiaddrs()[0])

      const started = Date.now()
      const error = await within(client.services.rendezvous.register('ns').catch((err: Error) => err), timeout * 10, 'register()')
      expect(error).to.be.an.instanceOf(Error)
      expect(error).to.have.property('name', 'TimeoutError')
      expect(Date.now() - started).to.be.at.least(timeout)

      const discovering = client.services.rendezvous.discover('ns')[Symbol.asyncIterator]().next()
      await expect(within(discovering, timeout * 10, 'discover()')).to.eventually.be.rejected.with.property('name', 'TimeoutError')

      const types = streams.map(entry => entry.types[0])
      expect(types).to.include(Message.MessageType.REGISTER)
      expect(types).to.include(Message.MessageType.DISCOVER)

      // the client gives up on every stream it opened: none lingers at the
      // point once it stops
      await within(client.stop(), timeout * 10, 'stop()')

      for (const { stream } of streams) {
        await closed(stream)
      }
    })

    // register() called before the point is connected runs registerAt()
    // twice (its own, and pointConnected()'s for the namespace it just
    // added): a failure landing after register() gave up must not schedule a
    // retry for a namespace the caller was told failed
    it('stops retrying a registration once register() has rejected', async function () {
      this.timeout(20_000)
      const client = await newClient({ namespaces: [], discoverNamespaces: [], timeout }, blackHole.getMultiaddrs()[0])

      await expect(client.services.rendezvous.register('ns')).to.eventually.be.rejected()
      const rejectedAt = Date.now()
      await new Promise(resolve => setTimeout(resolve, 3_000))

      expect(streams.filter(entry => entry.times[0] > rejectedAt), 'REGISTERs sent after register() rejected').to.be.empty()
    })

    it('backs off its retries: registrations and polls at most as often as the backoff allows', async function () {
      this.timeout(20_000)
      const client = await newClient({ timeout, maxReconnectDelay: 60_000 }, blackHole.getMultiaddrs()[0])

      // wait for the first retries of each, then watch a while longer
      const attemptsOf = (type: Message.MessageType): number[] => streams.filter(entry => entry.types[0] === type).map(entry => entry.times[0])
      const watch = 4_000
      await new Promise(resolve => setTimeout(resolve, watch))

      const registers = attemptsOf(Message.MessageType.REGISTER)
      const discovers = attemptsOf(Message.MessageType.DISCOVER)

      for (const attempts of [registers, discovers]) {
        expect(attempts.length, 'a first attempt and at least one retry').to.be.at.least(2)
        const gaps = attempts.slice(1).map((time, i) => time - attempts[i])

        // waits of 1 s, 2 s, 4 s ... (times 1 to 2) after each timeout
        gaps.forEach((gap, i) => {
          expect(gap, `wait before retry ${i + 1}`).to.be.at.least(1000 * 2 ** i)
        })

        // so in `watch` ms, at most 1 + log2(watch / 1 s + 1) attempts
        expect(attempts.length).to.be.at.most(1 + Math.floor(Math.log2(watch / 1000 + 1)))
      }

      await within(client.stop(), timeout * 10, 'stop()')

      for (const { stream } of streams) {
        await closed(stream)
      }
    })
  })

  describe('dropped connections', () => {
    async function survivesDrop (how: 'closes' | 'aborts'): Promise<void> {
      const [a, b] = [await newClient(), await newClient()]
      const events = recordDiscoveries(a)
      await emits(a, b, events)
      const registrations = point.store.registered(a)

      for (const connection of point.node.getConnections(a.peerId)) {
        if (how === 'closes') {
          await connection.close()
        } else {
          connection.abort(new Error('dropped by the test'))
        }
      }

      await registeredMoreThan(a, registrations)
      const newcomer = await newClient()
      await emits(a, newcomer, events)
    }

    for (const how of ['closes', 'aborts'] as const) {
      it(`re-registers and resumes polling after the point ${how} the connection`, async () => {
        await survivesDrop(how)
      })
    }

    it('rejects a register() in flight when the connection drops, without waiting for the timeout, then registers again', async () => {
      const timeout = 10_000
      const client = await newClient({ namespaces: [], discoverNamespaces: [], timeout })

      if (client.getConnections(point.node.peerId).length === 0) {
        await pEvent(client, 'peer:connect')
      }

      let open: () => void = () => {}
      point.store.gate = new Promise<void>(resolve => { open = resolve })
      const entered = new Promise<void>(resolve => { point.store.onPut = resolve })

      const started = Date.now()
      const registering = client.services.rendezvous.register('in-flight').catch((err: Error) => err)
      await entered

      for (const connection of point.node.getConnections(client.peerId)) {
        connection.abort(new Error('dropped by the test'))
      }

      const error = await registering
      expect(error).to.be.an.instanceOf(Error)
      expect(Date.now() - started, 'rejected by the drop, not by the timeout').to.be.below(timeout)

      point.store.onPut = undefined
      open()

      // the client reconnects, and a new register() goes through
      expect(await client.services.rendezvous.register('in-flight', { ttl: 60_000 })).to.equal(60_000)
    })
  })

  it('keeps reconnect attempts to a point that is down to what the backoff allows', async function () {
    this.timeout(20_000)
    const maxReconnectDelay = 500
    const client = await newClient({ maxReconnectDelay })
    await point.store.until(() => point.store.registered(client) > 0)

    const connectionManager = (client as any).components.connectionManager
    const openConnection = connectionManager.openConnection.bind(connectionManager)
    const dials: number[] = []
    connectionManager.openConnection = async (...args: any[]) => {
      if (args[0]?.toString().includes(point.node.peerId.toString()) === true) {
        dials.push(Date.now())
      }

      return openConnection(...args)
    }

    const identity = { privateKey: point.privateKey, address: point.address }
    await point.node.stop()
    const down = 3_000
    await new Promise(resolve => setTimeout(resolve, down))
    const attempts = [...dials]
    point = await startPoint({}, identity)

    // the client comes back on its own
    await point.store.until(() => point.store.registered(client) > 0)

    // with a cap of 500 ms, waits are exactly 500 ms (1 s times 1 to 2,
    // capped), so at most one attempt per 500 ms: 120 a minute. (Timers may
    // fire a millisecond early as Date.now() sees them.)
    expect(attempts.length, 'attempts while the point was down').to.be.at.least(2)
    expect(attempts.length).to.be.at.most(1 + Math.floor(down / maxReconnectDelay))
    const gaps = attempts.slice(1).map((time, i) => time - attempts[i])
    gaps.forEach((gap, i) => {
      expect(gap, `wait before attempt ${i + 2}`).to.be.at.least(maxReconnectDelay - 2)
    })

    // eslint-disable-next-line no-console
    console.info(`      ${attempts.length} dials in ${down} ms down (${Math.round(attempts.length * 60_000 / down)}/min), gaps ${gaps.join(', ')} ms`)
  })
})

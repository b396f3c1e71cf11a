/**
 * Load: hundreds of client nodes, each with its own TCP connection to one
 * rendezvous point on 127.0.0.1, register and discover at once for a short
 * period bounded by both a request count and a time. Node.js only.
 *
 * LOAD_CONNECTIONS (default 500), LOAD_REQUESTS per client (default 20, under
 * the point's default rate limit of 100 a second, so no request is refused
 * for it) and LOAD_DURATION in ms (default 20 000) tune it.
 */
import v8 from 'node:v8'
import vm from 'node:vm'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { sendDiscover, sendRegister } from '../../src/client/requests.ts'
import { PROTOCOL } from '../../src/constants.ts'
import { rendezvousServer } from '../../src/index.ts'
import { newPrivateKey, signedPeerRecord } from '../fixtures/nodes.ts'
import { envNumber, eventually } from './helpers.ts'
import type { RequestContext } from '../../src/client/requests.ts'
import type { RendezvousServer } from '../../src/index.ts'
import type { Libp2p } from '@libp2p/interface'

const CONNECTIONS = envNumber('LOAD_CONNECTIONS', 500)
const REQUESTS = envNumber('LOAD_REQUESTS', 20)
const DURATION = envNumber('LOAD_DURATION', 20_000)
const NAMESPACES = 20
const MB = 1024 * 1024

/**
 * The garbage collector, exposed at run time: mocha's process is not started
 * with --expose-gc
 */
function exposeGc (): () => void {
  v8.setFlagsFromString('--expose-gc')
  return vm.runInNewContext('gc')
}

function heapUsed (gc: () => void): number {
  for (let i = 0; i < 3; i++) {
    gc()
  }

  return process.memoryUsage().heapUsed
}

/**
 * Runs `task` over `items` with at most `concurrency` at a time
 */
async function pool <T> (items: T[], concurrency: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0

  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < items.length) {
      const index = next++
      await task(items[index], index)
    }
  }))
}

function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * p / 100) - 1)]
}

describe('load: many clients at one rendezvous point over TCP', function () {
  this.timeout(DURATION + 180_000)

  it(`holds ${CONNECTIONS} connections registering and discovering at once, with no errors, and gives its memory back`, async () => {
    const gc = exposeGc()
    const point: Libp2p<{ rendezvousServer: RendezvousServer }> = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      // libp2p's defaults, fit for an ordinary peer, would refuse most of
      // these connections: at most 5 new inbound connections per second from
      // one IP, 100 connections, 10 being set up at once
      connectionManager: {
        maxConnections: CONNECTIONS * 2,
        inboundConnectionThreshold: CONNECTIONS * 2,
        maxIncomingPendingConnections: CONNECTIONS
      },
      services: { rendezvousServer: rendezvousServer() }
    })
    const address = point.getMultiaddrs()[0]
    let clients: Array<{ node: Libp2p, context: RequestContext, record: Uint8Array<ArrayBuffer>, ns: string }> = []
    const errors: Error[] = []
    const latencies: number[] = []

    try {
      const baseline = heapUsed(gc)

      // connect the clients, a few dozen at a time
      const connectStarted = Date.now()
      clients = new Array(CONNECTIONS)
      await pool(Array.from({ length: CONNECTIONS }, (_, i) => i), 32, async (i) => {
        const privateKey = await newPrivateKey()
        const node = await createLibp2p({ privateKey, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()] })
        await node.dial(address)
        clients[i] = {
          node,
          context: { connectionManager: (node as any).components.connectionManager, protocol: PROTOCOL },
          record: await signedPeerRecord(privateKey, [`/ip4/127.0.0.1/tcp/${10_000 + i}`]),
          ns: `load-${i % NAMESPACES}`
        }
      })
      const connectSeconds = (Date.now() - connectStarted) / 1000

      // every client holds its connection at once (the point may finish
      // upgrading the last ones just after their dialers)
      await eventually(() => point.getConnections().length >= CONNECTIONS, 30_000, 20)
      const peak = process.memoryUsage().heapUsed

      // all clients at once: REGISTER, DISCOVER, REGISTER ... until each has
      // sent REQUESTS or the time is up
      const deadline = Date.now() + DURATION
      const loadStarted = Date.now()
      await Promise.all(clients.map(async (client) => {
        for (let i = 0; i < REQUESTS && Date.now() < deadline; i++) {
          const started = performance.now()
          // not AbortSignal.timeout(): its timer would keep the signal, and
          // whatever listens to it, alive for the whole timeout
          const controller = new AbortController()
          const timer = setTimeout(() => { controller.abort(new Error('request timed out')) }, 30_000)
          const signal = controller.signal

          try {
            if (i % 2 === 0) {
              const ttl = await sendRegister(client.context, address, { namespace: client.ns, signedPeerRecord: client.record, ttl: 7_200_000 }, { signal })
              expect(ttl).to.equal(7_200_000)
            } else {
              const page = await sendDiscover(client.context, address, { namespace: client.ns, limit: 10 }, { signal })
              expect(page.registrations).to.not.be.empty()
            }

            latencies.push(performance.now() - started)
          } catch (err: any) {
            errors.push(err)
          } finally {
            clearTimeout(timer)
          }
        }
      }))
      const loadSeconds = (Date.now() - loadStarted) / 1000

      expect(errors.map(err => `${err.name}: ${err.message}`).slice(0, 5), `${errors.length} errors`).to.be.empty()
      expect(latencies).to.have.length.of.at.least(CONNECTIONS)
      expect(await (point.services.rendezvousServer as any).store.count()).to.equal(CONNECTIONS)
      // the clients still hold their connections
      expect(point.getConnections().length).to.be.at.least(CONNECTIONS)

      // stop every client, and let the point forget them
      await pool(clients, 32, async (client) => { await client.node.stop() })
      clients = []
      await eventually(() => point.getConnections().length === 0, 30_000, 50)

      // libp2p's connection manager keeps each stopped connection
      // reachable from a 500 ms timeout signal (a p-event listener it never
      // removes), so the heap comes back shortly after stop(), not at once
      const threshold = Math.max(16 * MB, (peak - baseline) / 8)
      const stopped = Date.now()
      let after = heapUsed(gc)

      while (after - baseline >= threshold && Date.now() - stopped < 15_000) {
        await new Promise(resolve => setTimeout(resolve, 250))
        after = heapUsed(gc)
      }

      const settleSeconds = (Date.now() - stopped) / 1000
      latencies.sort((a, b) => a - b)
      // eslint-disable-next-line no-console
      console.info([
        `      ${CONNECTIONS} TCP connections held at once (connected in ${connectSeconds.toFixed(1)} s)`,
        `      ${latencies.length} requests in ${loadSeconds.toFixed(1)} s (${Math.round(latencies.length / loadSeconds)}/s), ${errors.length} errors`,
        `      latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies[latencies.length - 1].toFixed(1)} ms`,
        `      heap: ${(baseline / MB).toFixed(1)} MB before, ${(peak / MB).toFixed(1)} MB with the clients, ${(after / MB).toFixed(1)} MB ${settleSeconds.toFixed(1)} s after they stopped`
      ].join('\n'))

      // the point keeps what it must (the registrations, the peer store's
      // entries for the peers it saw), nothing per connection or stream
      expect(after - baseline, 'heap gained once the clients are gone').to.be.below(threshold)
    } finally {
      await Promise.all(clients.filter(client => client != null).map(async client => client.node.stop()))
      await point.stop()
    }
  })
})

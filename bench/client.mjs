#!/usr/bin/env node
/**
 * What the rendezvous client costs and how fast it finds peers, with its
 * default settings, against one rendezvous point over TCP on 127.0.0.1
 * (noise, yamux), all in this process.
 *
 * Latency: client B polls a namespace; at a random moment peer A registers
 * in it; the time until B's node emits `peer:discovery` for A. It is bounded
 * by B's discoverInterval (1 min by default), so the trials run concurrently,
 * each with its own namespace, pair of nodes and random moment. A second set
 * of trials polls every BENCH_FAST_INTERVAL ms to show the floor.
 *
 * Requests of an idle client (one point, one namespace): the point's store
 * counts REGISTER, DISCOVER and UNREGISTER over simulated hours, with sinon's
 * fake clock driving every timer and Date while the real event loop carries
 * the TCP traffic between its steps.
 *
 * Run it with `node_modules/.bin/node bench/client.mjs` after `npm run build`.
 * Progress goes to stderr, one JSON object with the parameters and results
 * is the last line of stdout.
 *
 * Environment: BENCH_TRIALS (5 per set), BENCH_FAST_INTERVAL (1000 ms),
 * BENCH_RUNS (3 idle runs), BENCH_SIMULATED_HOURS (2), BENCH_STEP (1000 ms).
 */

import sinon from 'sinon'
import { DEFAULT_DISCOVER_INTERVAL, DEFAULT_TTL, HOUR, REFRESH_RATIO } from '../dist/src/constants.js'
import { MemoryRegistrationStore, rendezvous, rendezvousServer } from '../dist/src/index.js'
import { log, machine, median, positive, round, tcpNode } from './lib.mjs'

const TRIALS = positive('BENCH_TRIALS', 5)
const FAST_INTERVAL = positive('BENCH_FAST_INTERVAL', 1000)
const RUNS = positive('BENCH_RUNS', 3)
const SIMULATED_HOURS = positive('BENCH_SIMULATED_HOURS', 2)
const STEP = positive('BENCH_STEP', 1000)
/** Real event loop turns between two steps of the fake clock */
const TURNS_PER_STEP = 5

// taken before sinon replaces them: the real event loop must keep turning
const realSetTimeout = globalThis.setTimeout
const realSetImmediate = globalThis.setImmediate
const sleep = async (ms) => new Promise(resolve => realSetTimeout(resolve, ms))

/**
 * The point's memory store, noting each request that reaches it: a REGISTER
 * is a put, an UNREGISTER a delete, a DISCOVER a discover
 */
class CountingStore extends MemoryRegistrationStore {
  /** @type {Array<{ type: string, namespace?: string, peerId?: string, at: number, time: number }>} */
  requests = []

  async put (registration, limits) {
    this.note('REGISTER', registration.namespace, registration.peerId)
    return super.put(registration, limits)
  }

  async delete (peerId, namespace) {
    this.note('UNREGISTER', namespace, peerId)
    return super.delete(peerId, namespace)
  }

  async discover (query) {
    this.note('DISCOVER', query.namespace)
    return super.discover(query)
  }

  note (type, namespace, peerId) {
    // at: real ms for latencies; time: Date.now(), simulated under the fake clock
    this.requests.push({ type, namespace, peerId, at: performance.now(), time: Date.now() })
  }
}

async function startPoint () {
  const store = new CountingStore()
  const node = await tcpNode({
    // every trial's two nodes connect at once, all from 127.0.0.1: js-libp2p
    // refuses more than 5 new inbound connections a second from one address
    // by default
    connectionManager: { inboundConnectionThreshold: 1000 },
    services: { rendezvousServer: rendezvousServer({ store }) }
  })
  return { node, store, address: node.getMultiaddrs()[0] }
}

/**
 * Resolves when `condition` holds, checking every few ms
 *
 * @param {() => boolean} condition - what to wait for
 * @param {number} timeout - ms before giving up
 */
async function until (condition, timeout) {
  const deadline = performance.now() + timeout

  while (!condition()) {
    if (performance.now() > deadline) {
      throw new Error('timed out')
    }

    await sleep(5)
  }
}

/**
 * One latency trial: B polls `namespace` every `interval` ms; after a random
 * wait in [0, interval) A registers there; B's node must emit
 * `peer:discovery` for A
 *
 * @param {Awaited<ReturnType<typeof startPoint>>} point - the point
 * @param {string} namespace - this trial's namespace
 * @param {number | undefined} interval - B's discoverInterval, undefined for the default
 */
async function latencyTrial (point, namespace, interval) {
  const period = interval ?? DEFAULT_DISCOVER_INTERVAL
  const b = await tcpNode({ peerDiscovery: [rendezvous({ rendezvousPoints: [point.address], namespaces: [namespace], ...(interval == null ? {} : { discoverInterval: interval }) })] })
  const a = await tcpNode({ services: { rendezvous: rendezvous({ rendezvousPoints: [point.address] }) } })

  try {
    // B's first poll goes out when it connects
    await until(() => b.getConnections(point.node.peerId).length > 0, 10_000)
    const offset = Math.random() * period
    await sleep(offset)

    let discoveredAt
    b.addEventListener('peer:discovery', (event) => {
      if (event.detail.id.equals(a.peerId)) {
        discoveredAt ??= performance.now()
      }
    })

    const started = performance.now()
    await a.services.rendezvous.register(namespace)
    const registered = performance.now()
    await until(() => discoveredAt != null, 2 * period + 15_000)

    // the first poll of the namespace that reached the point after A's put
    const put = point.store.requests.find(request => request.type === 'REGISTER' && request.peerId === a.peerId.toString())
    const poll = point.store.requests.find(request => request.type === 'DISCOVER' && request.namespace === namespace && request.at > put.at)

    return {
      namespace,
      offsetMs: round(offset),
      latencyMs: round(discoveredAt - started),
      registerRoundTripMs: round(registered - started),
      waitForPollMs: round(poll.at - registered),
      pollToDiscoveryMs: round(discoveredAt - poll.at)
    }
  } finally {
    await Promise.all([a.stop(), b.stop()])
  }
}

/**
 * Every latency trial of both sets at once
 */
async function latencies () {
  const point = await startPoint()
  const sets = [
    { name: `default (discoverInterval ${DEFAULT_DISCOVER_INTERVAL} ms)`, interval: undefined },
    { name: `discoverInterval ${FAST_INTERVAL} ms`, interval: FAST_INTERVAL }
  ]

  try {
    log(`latency: ${sets.length} x ${TRIALS} trials at once, up to ${round(DEFAULT_DISCOVER_INTERVAL / 1000 * 2)} s`)

    return await Promise.all(sets.map(async (set, s) => {
      const trials = await Promise.all(Array.from({ length: TRIALS }, async (_, i) => {
        const trial = await latencyTrial(point, `latency-${s}-${i}`, set.interval)
        log(`latency ${set.name} trial ${i + 1}: ${trial.latencyMs} ms (register round trip ${trial.registerRoundTripMs} ms, waited ${trial.waitForPollMs} ms for the next poll, at random moment ${trial.offsetMs} ms)`)
        return trial
      }))
      const values = trials.map(trial => trial.latencyMs)

      return {
        set: set.name,
        discoverInterval: set.interval ?? DEFAULT_DISCOVER_INTERVAL,
        medianMs: round(median(values)),
        maxMs: round(Math.max(...values)),
        registerRoundTripMedianMs: round(median(trials.map(trial => trial.registerRoundTripMs))),
        pollToDiscoveryMedianMs: round(median(trials.map(trial => trial.pollToDiscoveryMs))),
        trials
      }
    }))
  } finally {
    await point.node.stop()
  }
}

/**
 * Turns the real event loop a few times, so TCP traffic started by the
 * timers of the last step gets through
 */
async function realTurns () {
  for (let i = 0; i < TURNS_PER_STEP; i++) {
    await new Promise(resolve => realSetImmediate(resolve))
  }

  await sleep(0)
}

/**
 * One idle client started under a fake clock that is then run for
 * SIMULATED_HOURS; resolves with the requests the point got in each hour
 */
async function idleRun () {
  const point = await startPoint()
  let clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] })
  const restore = () => {
    clock?.restore()
    clock = undefined
  }
  const start = Date.now()
  let client
  let disconnects = 0

  try {
    client = await tcpNode({ peerDiscovery: [rendezvous({ rendezvousPoints: [point.address], namespaces: ['idle'] })] })
    client.addEventListener('peer:disconnect', () => { disconnects++ })

    for (let elapsed = 0; elapsed < SIMULATED_HOURS * HOUR; elapsed += STEP) {
      await clock.tickAsync(STEP)
      await realTurns()
    }

    const requests = point.store.requests.slice()
    restore()
    await client.stop()
    client = undefined
    // the point handles the last UNREGISTER after the client is gone
    await sleep(200)
    const hours = Array.from({ length: SIMULATED_HOURS }, (_, hour) => {
      const counts = { REGISTER: 0, DISCOVER: 0, UNREGISTER: 0 }
      requests.filter(request => Math.floor((request.time - start) / HOUR) === hour).forEach(request => { counts[request.type]++ })
      return counts
    })
    const renewals = requests.filter(request => request.type === 'REGISTER').map(request => round((request.time - start) / 60_000, 1))
    // what the client sends as it stops, on the real clock again
    const atStop = point.store.requests.slice(requests.length).map(request => request.type)

    return { hours, registerAtMinutes: renewals, atStop, disconnects }
  } finally {
    restore()
    await client?.stop()
    await point.node.stop()
  }
}

async function idleRequests () {
  const runs = []

  for (let run = 0; run < RUNS; run++) {
    const started = performance.now()
    runs.push(await idleRun())
    log(`idle run ${run + 1}: ${JSON.stringify(runs.at(-1).hours)} per simulated hour, REGISTER at minutes ${runs.at(-1).registerAtMinutes.join(', ')}, ${runs.at(-1).disconnects} disconnects (${round((performance.now() - started) / 1000, 1)} s real)`)
  }

  const perHour = (hour) => Object.fromEntries(['REGISTER', 'DISCOVER', 'UNREGISTER'].map(type => [type, median(runs.map(run => run.hours[hour][type]))]))
  const refreshMinutes = DEFAULT_TTL * REFRESH_RATIO / 60_000

  return {
    requestsPerHour: perHour(0),
    byHour: Array.from({ length: SIMULATED_HOURS }, (_, hour) => ({ hour: hour + 1, ...perHour(hour) })),
    expectedSteadyStatePerHour: {
      DISCOVER: HOUR / DEFAULT_DISCOVER_INTERVAL,
      REGISTER: round(60 / refreshMinutes, 3),
      UNREGISTER: 0
    },
    explanation: `one DISCOVER per discoverInterval (${DEFAULT_DISCOVER_INTERVAL / 1000} s) = ${HOUR / DEFAULT_DISCOVER_INTERVAL}/h, each a single page as the namespace holds fewer than 100 peers; one REGISTER at start, then a renewal at ${REFRESH_RATIO} x the granted TTL (${DEFAULT_TTL / 60_000} min) = every ${refreshMinutes} min; UNREGISTER only when the client stops (runs[].atStop, after the simulated hours)`,
    runs
  }
}

async function main () {
  const started = performance.now()
  const latency = await latencies()
  log('idle client: requests over simulated hours')
  const idle = await idleRequests()

  process.stdout.write(`${JSON.stringify({
    benchmark: 'client',
    date: new Date().toISOString(),
    machine: machine(),
    command: 'node_modules/.bin/node bench/client.mjs',
    seconds: round((performance.now() - started) / 1000, 1),
    parameters: {
      transport: 'tcp 127.0.0.1, noise, yamux; one point and every client in this process',
      trials: TRIALS,
      fastInterval: FAST_INTERVAL,
      idleRuns: RUNS,
      simulatedHours: SIMULATED_HOURS,
      clockStepMs: STEP,
      client: 'rendezvous({ rendezvousPoints: [point], namespaces: [ns] }), defaults otherwise: discoverInterval 60 s, ttl 2 h, discoverLimit 100'
    },
    latency: {
      measure: 'from peer A calling register(ns) to peer B\'s node emitting peer:discovery for A; A registers at a random moment in [0, discoverInterval) after B connected to the point (its first poll); bounded by discoverInterval + the round trips, the point\'s share being registerRoundTripMs and pollToDiscoveryMs',
      sets: latency
    },
    idle: {
      measure: 'requests reaching the point from one idle client (one point, one namespace), counted in the point\'s store, per simulated hour; sinon fake timers (setTimeout, setInterval, Date) advanced in steps with real event loop turns between',
      ...idle
    }
  })}\n`)
}

main().catch(err => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})

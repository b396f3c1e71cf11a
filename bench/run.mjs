#!/usr/bin/env node
/*
 * The benchmark suite: `npm run bench` (builds, builds the Rust and Go
 * interop peers and installs the canvas-js one, runs this). Not part of
 * `npm test`.
 *
 * Sections, chosen with BENCH_ONLY (comma-separated, default all):
 *
 * - points: bench/points.mjs, unit costs of our command's point beside the
 *   Go and Rust points, the JS echo floor and canvas-js in one run: a new
 *   client, a held idle connection, REGISTER and DISCOVER with a new stream
 *   per request and many per stream, and the capacity model built from them
 * - expiry: requests to our point while it reclaims BENCH_EXPIRING (1M)
 *   registrations that lapse at once
 * - pages: DISCOVER with a cookie over the wire, in namespaces of
 *   BENCH_PAGE_SIZES (1k, 100k, 1M) registrations
 * - scale: bench/scale.mjs (heap per registration, page latency, refresh cost,
 *   expiry cost)
 * - client: bench/client.mjs (register to discovery time, idle requests)
 *
 * expiry and pages drive bench/point.mjs (the library's point with its
 * memory store, in its own process) from BENCH_CLIENTS js-libp2p v3 nodes in
 * this process over TCP + noise + yamux on loopback, one stream per
 * request. Each client node dials from its own source address, 127.0.1.<k>,
 * so js-libp2p's default inbound connection threshold (5 per second per
 * address) never applies; the point's per-peer rate limit is raised with
 * `maxRequestsPerPeer`, since each client node sends hundreds per second.
 *
 * Results go to bench/results.json (a partial run keeps the other sections
 * of the last one) and the tables to stdout, with the run's duration.
 */

import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL } from '../dist/src/constants.js'
import { Message } from '../dist/src/pb/rendezvous.js'
import { log, machine, median, medianRun, positive, positiveList, quantile, round, signedPeerRecord, startJsonChild, table, tcpNode } from './lib.mjs'
import { pointsReport } from './points-report.mjs'

const POINT = fileURLToPath(new URL('./point.mjs', import.meta.url))
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url))

const CLIENTS = positive('BENCH_CLIENTS', 8)
const SECONDS = positive('BENCH_SECONDS', 5)
const RUNS = positive('BENCH_RUNS', 3)
const EXPIRING = positive('BENCH_EXPIRING', 1_000_000)
const PAGE_SIZES = positiveList('BENCH_PAGE_SIZES', [1000, 100_000, 1_000_000])
const SECTIONS = (process.env.BENCH_ONLY ?? 'points,expiry,pages,scale,client').split(',')
const DISCOVER_LIMIT = 100
const DISCOVER_NS = 'bench-discover'
/** the points' rate limit for the load clients: far above what they send */
const MAX_REQUESTS_PER_PEER = 1_000_000_000

/**
 * Writes `count` real signed peer records of distinct peers, as JSON lines
 * `{peerId, record}`, for the points to preload
 *
 * @param {string} file - where
 * @param {number} count - how many
 */
async function writeRecords (file, count) {
  const lines = []

  for (let i = 0; i < count; i++) {
    const privateKey = await generateKeyPair('Ed25519')
    const record = await signedPeerRecord(privateKey, [multiaddr(`/ip4/10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}/tcp/4001`)])
    lines.push(JSON.stringify({ peerId: peerIdFromPrivateKey(privateKey).toString(), record: Buffer.from(record).toString('base64') }))
  }

  await writeFile(file, `${lines.join('\n')}\n`)
}

/**
 * A load client: a libp2p node dialing from its own loopback address, with a
 * signed peer record for it
 *
 * @param {number} k - the client's number, from 0
 */
async function startClient (k) {
  const host = `127.0.1.${k + 1}`
  const privateKey = await generateKeyPair('Ed25519')
  const node = await tcpNode({
    privateKey,
    addresses: { listen: [] },
    transports: [tcp({ dialOpts: { localAddress: host } })]
  })

  return { node, record: await signedPeerRecord(privateKey, [multiaddr(`/ip4/${host}/tcp/4001`)]) }
}

/**
 * An encoded DISCOVER request
 *
 * @param {string} ns - the namespace
 * @param {number} [limit] - the page size
 * @param {Uint8Array} [cookie] - where to resume
 */
function discoverRequest (ns, limit = DISCOVER_LIMIT, cookie) {
  return Message.encode({ type: Message.MessageType.DISCOVER, discover: { ns, limit: BigInt(limit), cookie } })
}

/**
 * One request on a new stream: resolves with the response bytes
 *
 * @param {import('@libp2p/interface').Connection} connection - to the point
 * @param {string} protocol - the protocol to open
 * @param {Uint8Array} bytes - the request
 */
async function request (connection, protocol, bytes) {
  const stream = await connection.newStream(protocol)
  const messages = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
  await messages.write(bytes)
  const response = (await messages.read()).subarray()
  await stream.close()
  return response
}

/**
 * Latency of requests to our point while it reclaims EXPIRING registrations
 * that lapse at the same moment, against the same load beforehand
 *
 * @param {string} dir - a temporary folder
 * @param {Array<{ node: import('libp2p').Libp2p }>} clients - the load clients
 */
async function expiry (dir, clients) {
  const records = path.join(dir, 'records.jsonl')
  await writeRecords(records, 1000)
  const point = await startJsonChild([POINT], { env: { BENCH_MAX_REQUESTS_PER_PEER: String(MAX_REQUESTS_PER_PEER) } })

  try {
    await point.send({ cmd: 'preload', ns: DISCOVER_NS, file: records, ttl: 7200 })
    const live = await point.send({ cmd: 'count' })
    const connections = await Promise.all(clients.map(async ({ node }) => node.dial(multiaddr(point.info.multiaddrs[0]))))
    const discoverBytes = discoverRequest(DISCOVER_NS)
    const runs = []

    for (let run = 0; run < RUNS; run++) {
      // the sweep runs every 10 s (the default): lapsing 12 s from now, the
      // registrations are reclaimed within 22 s
      const lapseIn = 12_000
      log(`expiry run ${run + 1}: adding ${EXPIRING} registrations that lapse together`)
      const added = performance.now()
      await point.send({ cmd: 'expiring', ns: 'bench-expiring', file: records, count: EXPIRING, in: lapseIn })
      const lapsesAt = added + lapseIn
      await point.send({ cmd: 'gc' })

      const before = []
      const during = []
      let sweepStartedAt = Infinity
      let reclaimedAt = Infinity
      const done = new AbortController()

      // the sweep starts at the first poll that sees fewer registrations, at
      // most POLL_MS after it really started
      const POLL_MS = 20
      const watcher = (async () => {
        while (!done.signal.aborted) {
          await new Promise(resolve => setTimeout(resolve, POLL_MS))

          if (performance.now() < lapsesAt) {
            continue
          }

          const count = await point.send({ cmd: 'count' })

          if (count < live + EXPIRING && sweepStartedAt === Infinity) {
            sweepStartedAt = performance.now() - POLL_MS
          }

          if (count === live) {
            reclaimedAt = performance.now()
            done.abort()
          }

          if (sweepStartedAt === Infinity) {
            // pauses before the sweep are not its own
            await point.send({ cmd: 'gc' })
          }
        }
      })()

      // one request in flight per client, so the latency is the point's,
      // not a queue's
      await Promise.all(connections.map(async (connection) => {
        while (!done.signal.aborted) {
          const sent = performance.now()
          await request(connection, PROTOCOL, discoverBytes)
          const latency = performance.now() - sent

          if (sent + latency < lapsesAt) {
            before.push(latency)
          } else if (sent + latency >= sweepStartedAt && sent <= reclaimedAt) {
            during.push(latency)
          }

          await new Promise(resolve => setTimeout(resolve, 5))
        }
      }))
      await watcher
      const gc = await point.send({ cmd: 'gc' })

      before.sort((a, b) => a - b)
      during.sort((a, b) => a - b)
      runs.push({
        sweepMs: Math.round(reclaimedAt - sweepStartedAt),
        gcDuringSweep: { pauses: gc.count, maxMs: round(gc.maxMs), totalMs: round(gc.totalMs) },
        loopDelayDuringSweep: { p99Ms: round(gc.loop.p99Ms), maxMs: round(gc.loop.maxMs) },
        before: { requests: before.length, p50: round(quantile(before, 0.5)), p99: round(quantile(before, 0.99)), max: round(before.at(-1) ?? 0) },
        during: { requests: during.length, p50: round(quantile(during, 0.5)), p99: round(quantile(during, 0.99)), max: round(during.at(-1) ?? 0) }
      })
      log(`expiry run ${run + 1}: swept in ${runs.at(-1).sweepMs} ms, longest GC pause ${runs.at(-1).gcDuringSweep.maxMs} ms, event loop delay max ${runs.at(-1).loopDelayDuringSweep.maxMs} ms; latency before p99 ${runs.at(-1).before.p99} max ${runs.at(-1).before.max} ms, during p99 ${runs.at(-1).during.p99} max ${runs.at(-1).during.max} ms`)
    }

    return { expiring: EXPIRING, median: medianRun(runs.map(run => ({ ...run, duringMax: run.during.max })), 'duringMax'), runs }
  } finally {
    await point.stop()
  }
}

/**
 * DISCOVER (limit 100) with cookies from all over namespaces of PAGE_SIZES
 * registrations, one request in flight per client: the page latency a
 * polling client sees, as the namespace grows
 *
 * @param {string} dir - a temporary folder
 * @param {Array<{ node: import('libp2p').Libp2p }>} clients - the load clients
 */
async function pages (dir, clients) {
  const records = path.join(dir, 'records.jsonl')
  await writeRecords(records, 1)
  const point = await startJsonChild([POINT], { env: { BENCH_MAX_REQUESTS_PER_PEER: String(MAX_REQUESTS_PER_PEER) } })

  try {
    const connections = await Promise.all(clients.map(async ({ node }) => node.dial(multiaddr(point.info.multiaddrs[0]))))
    const sizes = []

    for (const size of PAGE_SIZES) {
      const ns = `bench-pages-${size}`
      log(`pages: adding ${size} registrations to ${ns}`)
      await point.send({ cmd: 'expiring', ns, file: records, count: size, in: 2 * 3600 * 1000 })

      // cookies spread over the namespace, each with a full page after it:
      // about a hundred of them, at most one per 1000 registrations
      const step = Math.min(1000, Math.max(DISCOVER_LIMIT, Math.floor(size / 100)))
      const cookies = []
      let cookie = new Uint8Array(0)

      for (;;) {
        const response = Message.decode(await request(connections[0], PROTOCOL, discoverRequest(ns, step, cookie)))

        if (response.discoverResponse?.registrations.length !== step) {
          break
        }

        cookies.push(cookie)
        cookie = response.discoverResponse.cookie
      }

      const runs = []

      for (let run = 0; run < RUNS; run++) {
        const latencies = []
        const deadline = performance.now() + SECONDS * 1000

        await Promise.all(connections.map(async (connection) => {
          while (performance.now() < deadline) {
            const bytes = discoverRequest(ns, DISCOVER_LIMIT, cookies[Math.floor(Math.random() * cookies.length)])
            const sent = performance.now()
            const response = Message.decode(await request(connection, PROTOCOL, bytes))

            if (response.discoverResponse?.registrations.length !== DISCOVER_LIMIT) {
              throw new Error(`a page of ${response.discoverResponse?.registrations.length} registrations`)
            }

            latencies.push(performance.now() - sent)
          }
        }))

        latencies.sort((a, b) => a - b)
        runs.push({ requests: latencies.length, p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)) })
        log(`pages ${size} run ${run + 1}: p50 ${runs.at(-1).p50} ms, p99 ${runs.at(-1).p99} ms over ${latencies.length} requests`)
      }

      sizes.push({ registrations: size, cookies: cookies.length, p50: median(runs.map(run => run.p50)), p99: median(runs.map(run => run.p99)), runs })
    }

    return { sizes, p50Ratio: round(sizes.at(-1).p50 / sizes[0].p50) }
  } finally {
    await point.stop()
  }
}

/**
 * Runs another benchmark script and resolves with the JSON object it prints
 * last, passing its progress lines through
 *
 * @param {string} name - the script, beside this one
 * @param {string[]} args - node's flags
 */
async function script (name, args = []) {
  const child = spawn(process.execPath, [...args, fileURLToPath(new URL(name, import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] })
  let last

  for await (const line of createInterface({ input: child.stdout })) {
    last = line
  }

  const code = await new Promise(resolve => { child.exitCode == null ? child.once('exit', resolve) : resolve(child.exitCode) })

  if (code !== 0) {
    throw new Error(`${name} exited with ${code}`)
  }

  return JSON.parse(last)
}

function report (results) {
  const out = []

  if (results.points != null) {
    out.push(pointsReport(results.points))
  }

  if (results.expiry != null) {
    const rows = results.expiry.runs.map((run, i) => [i + 1, run.sweepMs, run.gcDuringSweep.maxMs, run.before.p50, run.before.p99, run.before.max, run.during.p50, run.during.p99, run.during.max])
    out.push(`Expiring ${results.expiry.expiring} registrations at once, DISCOVER latency (ms)`, '', table(['run', 'sweep ms', 'longest GC pause ms', 'before p50', 'before p99', 'before max', 'during p50', 'during p99', 'during max'], rows), '')
  }

  if (results.pages != null) {
    out.push('DISCOVER (limit 100) with a cookie, over the wire (ms)', '', table(['registrations', 'p50', 'p99', 'cookies'], results.pages.sizes.map(size => [size.registrations, size.p50, size.p99, size.cookies])), '', `p50 ratio: ${results.pages.p50Ratio}`, '')
  }

  if (results.scale != null) {
    const { heap, page, expiry } = results.scale
    out.push('Heap per registration, in-memory store', '', table(['registrations', 'bytes per registration', 'record bytes', 'overhead bytes', '≤ record + 250 B'], heap.sizes.map(size => [size.registrations, round(size.bytesPerRegistration, 1), size.recordBytes, size.overheadBytes, size.meetsTarget ? 'yes' : 'no'])), '')
    out.push('DISCOVER page (limit 100) with a cookie, in the store (µs)', '', table(['registrations', 'p50', 'p99', 'p50, recent cursors', 'walk past all expired, ms'], page.sizes.map(size => [size.registrations, round(size.p50Us, 1), round(size.p99Us, 1), round(size.recentP50Us, 1), size.expiredScanMs])), '')
    out.push(`p50 ratio ${page.p50Ratio.of}: ${page.p50Ratio.value} (recent cursors ${page.recentP50Ratio.value})`, '')

    if (results.scale.refresh != null) {
      out.push('REGISTER refreshing a held registration, and one peer registering and unregistering again and again, in the store (µs)', '', table(['registrations', 'per refresh', 'per register and unregister'], results.scale.refresh.sizes.map(size => [size.registrations, size.usPerRefresh, size.usPerCycle])), '')
    }

    out.push('Expiring 1M registrations at once, in the store', '', table(['load', 'reclaim ms', 'CPU in removeExpired ms', 'ops p99 ms', 'ops max ms', 'event loop delay max ms'], expiry.variants.map(variant => [variant.load, variant.reclaimMs, variant.removeExpiredCpuMs, variant.opLatencyP99Ms, variant.opLatencyMaxMs, variant.eventLoopDelayMaxMs])), '')
  }

  if (results.client != null) {
    const { latency, idle } = results.client
    out.push('Client: register on A to peer:discovery on B (ms)', '', table(['settings', 'median', 'max', 'trials'], latency.sets.map(set => [set.set, round(set.medianMs), round(set.maxMs), set.trials.map(trial => Math.round(trial.latencyMs)).join(' / ')])), '')
    out.push(`Idle client requests per hour: ${JSON.stringify(idle.requestsPerHour)} (steady state ${JSON.stringify(idle.expectedSteadyStatePerHour)})`, '')
  }

  return out.join('\n')
}

async function main () {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'rendezvous-bench-'))
  // a partial run (BENCH_ONLY) keeps the other sections of the last one
  const previous = process.env.BENCH_ONLY == null ? {} : await readFile(RESULTS, 'utf8').then(JSON.parse, () => ({}))
  const results = {
    ...previous,
    date: new Date().toISOString(),
    machine: machine(),
    command: 'npm run bench',
    parameters: { ...previous.parameters, clients: CLIENTS, seconds: SECONDS, runs: RUNS, expiring: EXPIRING, discoverLimit: DISCOVER_LIMIT, transport: 'tcp 127.0.0.1 (one source address per client), noise, yamux; one stream per request', pointMaxRequestsPerPeer: MAX_REQUESTS_PER_PEER }
  }
  const started = performance.now()
  // written after each section, so a failure keeps what was measured
  const save = async () => { await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`) }
  let clients = []

  try {
    if (SECTIONS.includes('points')) {
      results.points = await script('points.mjs')
      await save()
    }

    if (['expiry', 'pages'].some(section => SECTIONS.includes(section))) {
      log(`starting ${CLIENTS} client nodes`)
      clients = await Promise.all(Array.from({ length: CLIENTS }, async (_, k) => startClient(k)))
    }

    if (SECTIONS.includes('expiry')) {
      results.expiry = await expiry(dir, clients)
      await save()
    }

    if (SECTIONS.includes('pages')) {
      results.pages = await pages(dir, clients)
      await save()
    }

    await Promise.all(clients.map(async ({ node }) => node.stop()))
    clients = []

    if (SECTIONS.includes('scale')) {
      results.scale = await script('scale.mjs', ['--expose-gc'])
      await save()
    }

    if (SECTIONS.includes('client')) {
      results.client = await script('client.mjs')
      await save()
    }
  } finally {
    await Promise.all(clients.map(async ({ node }) => node.stop()))
    await rm(dir, { recursive: true, force: true })
  }

  results.seconds = Math.round((performance.now() - started) / 1000)
  await save()
  process.stdout.write(`\n${report(results)}\nThe run took ${Math.round(results.seconds / 60)} minutes; results in ${RESULTS}\n`)
}

main().catch(err => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})

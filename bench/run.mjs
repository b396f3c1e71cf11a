#!/usr/bin/env node
/*
 * The benchmark suite: `npm run bench` (builds, installs the canvas-js
 * interop peer, runs this). Not part of `npm test`.
 *
 * Sections, chosen with BENCH_ONLY (comma-separated, default all):
 *
 * - throughput: REGISTER and DISCOVER (limit 100, on a namespace preloaded
 *   with BENCH_PRELOAD registrations) against our point, the transport
 *   ceiling (a trivial request/response protocol with the same message
 *   sizes, on the same node) and the canvas-js point, in one run, with the
 *   points' CPU time per request read from /proc; plus the crypto ceiling
 *   (signed peer record verifications per second, in process)
 * - expiry: requests to our point while it reclaims BENCH_EXPIRING (1M)
 *   registrations that lapse at once
 * - pages: DISCOVER with a cookie over the wire, in namespaces of
 *   BENCH_PAGE_SIZES (1k, 100k, 1M) registrations
 * - scale: bench/scale.mjs (heap per registration, page latency, expiry cost)
 * - client: bench/client.mjs (register to discovery time, idle requests)
 *
 * Each point runs in its own process; the load comes from BENCH_CLIENTS (K)
 * js-libp2p v3 nodes in this process over TCP + noise + yamux on loopback,
 * one stream per request, BENCH_INFLIGHT requests in flight per node. Each
 * client node dials from its own source address, 127.0.1.<k>, so no point
 * sees more than one new connection per address and js-libp2p's default
 * inbound connection threshold (5 per second per address) never applies; our
 * point's per-peer rate limit (100 requests/s by default) is raised with
 * `maxRequestsPerPeer`, since each client node sends thousands per second.
 *
 * Every figure is the median of BENCH_RUNS runs of BENCH_SECONDS each; the
 * workloads take turns within each run. Results go to bench/results.json and
 * the tables to stdout.
 */

import { spawn } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { tcp } from '@libp2p/tcp'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL } from '../dist/src/constants.js'
import { Message } from '../dist/src/pb/rendezvous.js'
import { CEILING_PROTOCOL, cpuTime, log, machine, median, medianRun, positive, positiveList, quantile, round, signedPeerRecord, startJsonChild, table, tcpNode } from './lib.mjs'

const POINT = fileURLToPath(new URL('./point.mjs', import.meta.url))
const CANVAS_PEER = fileURLToPath(new URL('../interop/canvas/peer.mjs', import.meta.url))
const RESULTS = fileURLToPath(new URL('./results.json', import.meta.url))

const CLIENTS = positive('BENCH_CLIENTS', 8)
const INFLIGHT = positive('BENCH_INFLIGHT', 4)
const SECONDS = positive('BENCH_SECONDS', 5)
const RUNS = positive('BENCH_RUNS', 3)
const PRELOAD = positive('BENCH_PRELOAD', 10_000)
const EXPIRING = positive('BENCH_EXPIRING', 1_000_000)
const PAGE_SIZES = positiveList('BENCH_PAGE_SIZES', [1000, 100_000, 1_000_000])
const SECTIONS = (process.env.BENCH_ONLY ?? 'throughput,expiry,pages,scale,client').split(',')
/** e.g. `register:ours,discover:ceiling` to run only those workloads (for profiling) */
const WORKLOADS = process.env.BENCH_WORKLOADS?.split(',')
/** node flags for our point, e.g. `--cpu-prof` */
const POINT_NODE_ARGS = process.env.BENCH_POINT_NODE_ARGS?.split(' ').filter(arg => arg !== '') ?? []
const WARMUP_MS = 1000
const DISCOVER_LIMIT = 100
const REGISTER_TTL = 3600
const REGISTER_NS = 'bench-register'
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
 * Sends a workload's requests from every client, INFLIGHT at a time each,
 * for `ms`, and measures ops/s, latency and the CPU time the serving process
 * spent per request
 *
 * @param {object} workload - what to send where, and how to check answers
 * @param {number} ms - how long
 */
async function drive (workload, ms) {
  const latencies = []
  const failures = []
  const cpuBefore = cpuTime(workload.pid)
  const clientCpuBefore = process.cpuUsage()
  const started = performance.now()
  const deadline = started + ms

  await Promise.all(workload.targets.flatMap(({ connection, bytes }) => Array.from({ length: INFLIGHT }, async () => {
    while (performance.now() < deadline) {
      const sent = performance.now()

      try {
        const response = await request(connection, workload.protocol, bytes)
        const problem = workload.check(response)

        if (problem == null) {
          latencies.push(performance.now() - sent)
        } else {
          failures.push(problem)
        }
      } catch (err) {
        failures.push(err.message)
      }
    }
  })))

  const elapsed = performance.now() - started
  const cpu = cpuTime(workload.pid) - cpuBefore
  const clientCpu = process.cpuUsage(clientCpuBefore)
  latencies.sort((a, b) => a - b)

  return {
    opsPerSecond: Math.round(latencies.length / (elapsed / 1000)),
    ok: latencies.length,
    failed: failures.length,
    firstFailure: failures[0],
    p50: round(quantile(latencies, 0.5)),
    p99: round(quantile(latencies, 0.99)),
    max: round(latencies.at(-1) ?? 0),
    pointCpuMsPerRequest: round(cpu / Math.max(1, latencies.length), 4),
    pointCpuShare: round(cpu / elapsed),
    clientCpuMsPerRequest: round((clientCpu.user + clientCpu.system) / 1000 / Math.max(1, latencies.length), 4)
  }
}

function rendezvousCheck (type, expectedRegistrations) {
  return (bytes) => {
    const message = Message.decode(bytes)
    const response = type === 'register' ? message.registerResponse : message.discoverResponse

    if (response == null) {
      return `no ${type} response`
    }

    // proto3 encoders (canvas-js) leave out OK, the enum's zero
    if ((response.status ?? Message.ResponseStatus.OK) !== Message.ResponseStatus.OK) {
      return `status ${response.status}: ${response.statusText}`
    }

    if (type === 'discover' && response.registrations.length !== expectedRegistrations) {
      return `${response.registrations.length} registrations instead of ${expectedRegistrations}`
    }
  }
}

function lengthCheck (length) {
  return (bytes) => bytes.byteLength === length ? undefined : `${bytes.byteLength} bytes instead of ${length}`
}

/**
 * A ceiling request as long as `requestLength` asking for `responseLength`
 *
 * @param {number} requestLength - bytes
 * @param {number} responseLength - bytes
 */
function ceilingRequest (requestLength, responseLength) {
  const bytes = new Uint8Array(requestLength)
  new DataView(bytes.buffer).setUint32(0, responseLength)
  return bytes
}

/**
 * Signed peer record verifications per second on one thread: the crypto
 * ceiling of REGISTER
 *
 * @param {Uint8Array[]} records - signed peer records to verify in turn
 */
async function cryptoCeiling (records) {
  const runs = []

  for (let run = 0; run < RUNS; run++) {
    const deadline = performance.now() + 2000
    const started = performance.now()
    let count = 0

    while (performance.now() < deadline) {
      await RecordEnvelope.openAndCertify(records[count % records.length], PeerRecord.DOMAIN)
      count++
    }

    runs.push({ perSecond: Math.round(count / ((performance.now() - started) / 1000)) })
    log(`crypto ceiling run ${run + 1}: ${runs.at(-1).perSecond} verifications/s`)
  }

  const perSecond = median(runs.map(run => run.perSecond))
  return { perSecond, msPerVerification: round(1000 / perSecond, 4), runs }
}

/**
 * The throughput section: every workload against every target, RUNS times
 *
 * @param {string} dir - a temporary folder
 * @param {Array<{ node: import('libp2p').Libp2p, record: Uint8Array }>} clients - the load clients
 */
async function throughput (dir, clients) {
  const records = path.join(dir, 'records.jsonl')
  log(`writing ${PRELOAD} signed peer records to preload`)
  await writeRecords(records, PRELOAD)

  const ours = await startJsonChild([...POINT_NODE_ARGS, POINT], { env: { BENCH_MAX_REQUESTS_PER_PEER: String(MAX_REQUESTS_PER_PEER) } })
  const canvas = await startJsonChild([CANVAS_PEER, 'point'], { env: { CANVAS_MAX_DISCOVER_LIMIT: String(DISCOVER_LIMIT) } })

  try {
    for (const [name, point] of [['ours', ours], ['canvas', canvas]]) {
      log(`preloading ${PRELOAD} registrations into the ${name} point`)
      await point.send({ cmd: 'preload', ns: DISCOVER_NS, file: records, ttl: 7200 })
    }

    const connections = {}

    for (const [name, point] of [['ours', ours], ['canvas', canvas]]) {
      connections[name] = await Promise.all(clients.map(async ({ node }) => node.dial(multiaddr(point.info.multiaddrs[0]))))
    }

    const registerRequests = clients.map(({ record }) => Message.encode({ type: Message.MessageType.REGISTER, register: { ns: REGISTER_NS, signedPeerRecord: record, ttl: BigInt(REGISTER_TTL) } }))
    const discoverBytes = discoverRequest(DISCOVER_NS)

    // the ceiling's messages are as long as ours
    const registerResponseLength = (await request(connections.ours[0], PROTOCOL, registerRequests[0])).byteLength
    const discoverResponseLength = (await request(connections.ours[0], PROTOCOL, discoverBytes)).byteLength
    const sizes = {
      register: { request: registerRequests[0].byteLength, response: registerResponseLength },
      discover: { request: discoverBytes.byteLength, response: discoverResponseLength }
    }
    log(`message sizes: ${JSON.stringify(sizes)}`)

    const workloads = []

    for (const op of ['register', 'discover']) {
      const requests = op === 'register' ? registerRequests : clients.map(() => discoverBytes)
      const ceilingBytes = ceilingRequest(sizes[op].request, sizes[op].response)

      workloads.push(
        { name: `${op}: transport ceiling`, op, target: 'ceiling', pid: ours.pid, protocol: CEILING_PROTOCOL, check: lengthCheck(sizes[op].response), targets: connections.ours.map(connection => ({ connection, bytes: ceilingBytes })) },
        { name: `${op}: libp2p-rendezvous`, op, target: 'ours', pid: ours.pid, protocol: PROTOCOL, check: rendezvousCheck(op, DISCOVER_LIMIT), targets: connections.ours.map((connection, k) => ({ connection, bytes: requests[k] })) },
        { name: `${op}: canvas-js`, op, target: 'canvas', pid: canvas.pid, protocol: PROTOCOL, check: rendezvousCheck(op, DISCOVER_LIMIT), targets: connections.canvas.map((connection, k) => ({ connection, bytes: requests[k] })) }
      )
    }

    if (WORKLOADS != null) {
      workloads.splice(0, workloads.length, ...workloads.filter(workload => WORKLOADS.includes(`${workload.op}:${workload.target}`)))
    }

    const runs = new Map(workloads.map(workload => [workload, []]))

    for (let run = 0; run < RUNS; run++) {
      for (const workload of workloads) {
        await drive(workload, WARMUP_MS)
        const result = await drive(workload, SECONDS * 1000)
        runs.get(workload).push(result)
        log(`run ${run + 1}/${RUNS} ${workload.name}: ${result.opsPerSecond} ops/s, p50 ${result.p50} ms, p99 ${result.p99} ms, point CPU ${result.pointCpuMsPerRequest} ms/request${result.failed > 0 ? `, ${result.failed} failed (${result.firstFailure})` : ''}`)
      }
    }

    const crypto = await cryptoCeiling(clients.map(({ record }) => record))

    return {
      sizes,
      crypto,
      workloads: workloads.map(workload => ({
        name: workload.name,
        op: workload.op,
        target: workload.target,
        median: medianRun(runs.get(workload), 'opsPerSecond'),
        cpuMsPerRequest: median(runs.get(workload).map(run => run.pointCpuMsPerRequest)),
        runs: runs.get(workload)
      }))
    }
  } finally {
    await ours.stop()
    await canvas.stop()
  }
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
  await writeRecords(records, Math.min(PRELOAD, 1000))
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
  const { throughput: t } = results

  if (t != null) {
    const byName = Object.fromEntries(t.workloads.map(workload => [`${workload.op}:${workload.target}`, workload]))
    const rows = []
    const ratios = []

    for (const op of ['register', 'discover']) {
      const ours = byName[`${op}:ours`]
      const ceiling = byName[`${op}:ceiling`]
      const canvas = byName[`${op}:canvas`]

      for (const workload of [ceiling, ours, canvas].filter(workload => workload != null)) {
        rows.push([workload.name, workload.median.opsPerSecond, workload.runs.map(run => run.opsPerSecond).join(' / '), workload.median.p50, workload.median.p99, round(workload.cpuMsPerRequest * 1000, 1)])
      }

      if (ours == null || ceiling == null || canvas == null) {
        continue
      }

      // the lower ceiling: the transport's, or for REGISTER the crypto's
      // when one verification per request caps it lower
      const lowerCeiling = op === 'register' ? Math.min(ceiling.median.opsPerSecond, t.crypto.perSecond) : ceiling.median.opsPerSecond
      const cpuBound = op === 'register' ? (ceiling.cpuMsPerRequest + t.crypto.msPerVerification) * 1.15 : ceiling.cpuMsPerRequest * 1.5
      ratios.push([op,
        `${round(ours.median.opsPerSecond / lowerCeiling * 100, 1)} %`,
        `${round(ours.cpuMsPerRequest * 1000, 1)} µs ≤ ${round(cpuBound * 1000, 1)} µs: ${ours.cpuMsPerRequest <= cpuBound ? 'yes' : 'no'}`,
        `${round(ours.median.opsPerSecond / ceiling.median.opsPerSecond * 100, 1)} %`,
        round(ours.median.opsPerSecond / canvas.median.opsPerSecond, 2),
        round(canvas.cpuMsPerRequest / ours.cpuMsPerRequest, 2)])
    }

    out.push('Throughput (median of runs)', '', table(['workload', 'ops/s', 'runs', 'p50 ms', 'p99 ms', 'point CPU µs/request'], rows), '')
    out.push(`Crypto ceiling: ${t.crypto.perSecond} signed peer record verifications/s on one thread (${round(t.crypto.msPerVerification * 1000, 1)} µs each)`, '')
    out.push(table(['op', 'efficiency (÷ lower ceiling)', 'CPU/request vs target', 'ops/s ÷ transport ceiling', 'ops/s ours ÷ canvas', 'CPU/request canvas ÷ ours'], ratios), '')
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
    parameters: { ...previous.parameters, clients: CLIENTS, inflight: INFLIGHT, seconds: SECONDS, runs: RUNS, preload: PRELOAD, expiring: EXPIRING, discoverLimit: DISCOVER_LIMIT, transport: 'tcp 127.0.0.1 (one source address per client), noise, yamux; one stream per request', pointMaxRequestsPerPeer: MAX_REQUESTS_PER_PEER }
  }
  // written after each section, so a failure keeps what was measured
  const save = async () => { await writeFile(RESULTS, `${JSON.stringify(results, null, 2)}\n`) }
  let clients = []

  try {
    if (['throughput', 'expiry', 'pages'].some(section => SECTIONS.includes(section))) {
      log(`starting ${CLIENTS} client nodes`)
      clients = await Promise.all(Array.from({ length: CLIENTS }, async (_, k) => startClient(k)))
    }

    if (SECTIONS.includes('throughput')) {
      results.throughput = await throughput(dir, clients)
      await save()
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

  process.stdout.write(`\n${report(results)}\nresults in ${RESULTS}\n`)
}

main().catch(err => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})

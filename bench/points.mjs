#!/usr/bin/env node
/*
 * Unit costs of rendezvous points, side by side in one run: our command
 * (`rendezvous-server --memory`), the Go point (go-libp2p-rendezvous), the
 * Rust point (rust-libp2p's libp2p-rendezvous), the JS echo floor (the
 * command's libp2p node serving a trivial protocol, bench/echo.mjs) and the
 * canvas-js point. Each point runs in its own process; the load comes from
 * BENCH_LOADERS processes (bench/load.mjs) of js-libp2p v3 clients over TCP,
 * noise and yamux on loopback, each client from its own 127.0.x.y address.
 *
 * For each point but canvas, in each of BENCH_RUNS runs, on a point started
 * afresh:
 *
 * - warm-up: BENCH_WARM clients connect, send one request and hang up
 * - new clients: BENCH_HELD clients connect, `BENCH_CONNECT_CONCURRENCY` at
 *   a time per load process, each with identify on both sides and one
 *   REGISTER (the echo floor: one echo request of the same size) on a new
 *   stream; point CPU per client is the point's CPU time over the whole
 *   phase, until it is idle again, divided by the clients. The CPU of the
 *   BENCH_IDLE_WAIT s after it, when our point hands back the memory the
 *   burst took, is reported on its own.
 * - held idle connections: the point's resident memory (VmRSS) before the
 *   new clients and after they are all connected, each read BENCH_IDLE_WAIT
 *   s after the point went quiet, divided by the connections (a JS point
 *   has handed back the memory the burst took, so this is what one more
 *   connection costs); and at the end of the burst, before the quiet; for
 *   the JavaScript points, the heap used after full garbage collections
 * - idle CPU (first run only): the point's CPU over BENCH_IDLE_SECONDS with
 *   every connection held and idle (keep-alive pings), per connection
 * - requests over held connections: BENCH_WORKLOAD_CLIENTS clients send
 *   BENCH_INFLIGHT requests at a time each for BENCH_SECONDS (after a 1 s
 *   warm-up) of REGISTER of an unchanged record, REGISTER of a fresh record,
 *   and DISCOVER (limit 100, 1000 registered in the namespace), with a new
 *   stream per request, and with many requests per stream where the point
 *   serves them (the Rust point does not); the echo floor answers requests
 *   of the same sizes; the load processes' CPU per request is read too.
 *   And the ping js-libp2p's connection monitor sends every 10 s on every
 *   connection (the load clients' own monitor is off)
 *
 * Prints progress on stderr and one JSON object, the parameters and every
 * run, as the last line of stdout. Run alone:
 * `node_modules/.bin/node bench/points.mjs` after `npm run build` and
 * `bash scripts/setup-interop.sh`.
 */

import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL } from '../dist/src/constants.js'
import { Message } from '../dist/src/pb/rendezvous.js'
import { sealPeerRecord } from '../dist/src/signed-peer-record.js'
import { pointsReport } from './points-report.mjs'
import { cpuTime, ECHO_PROTOCOL, echoRequest, log, machine, median, nonNegative, positive, quantile, quiet, round, rssBytes, startCommand, startJsonChild, syscalls } from './lib.mjs'

const here = (file) => fileURLToPath(new URL(file, import.meta.url))
const PROBE = here('./probe.mjs')
const GO = here('../interop/.bin/rendezvous-interop-go')
const RUST = here('../interop/.bin/rendezvous-interop-rust')
const CANVAS = here('../interop/canvas/peer.mjs')

const HELD = positive('BENCH_HELD', 2000)
const LOADERS = positive('BENCH_LOADERS', 4)
const WARM = positive('BENCH_WARM', 100)
const WORKLOAD_CLIENTS = positive('BENCH_WORKLOAD_CLIENTS', 8)
const INFLIGHT = positive('BENCH_INFLIGHT', 4)
const CONNECT_CONCURRENCY = positive('BENCH_CONNECT_CONCURRENCY', 4)
const SECONDS = positive('BENCH_SECONDS', 5)
const RUNS = positive('BENCH_RUNS', 3)
const IDLE_WAIT = positive('BENCH_IDLE_WAIT', 5)
const IDLE_SECONDS = positive('BENCH_IDLE_SECONDS', 31)
const POINTS = (process.env.BENCH_POINTS ?? 'echo,ours,go,rust,canvas').split(',')
/** e.g. `register-same,discover/many`: only these workloads (and stream modes) */
const WORKLOADS = process.env.BENCH_WORKLOADS?.split(',')
/** node flags for the JavaScript points, ours and the echo floor, e.g. `--cpu-prof` */
const JS_NODE_ARGS = process.env.BENCH_POINT_NODE_ARGS?.split(' ').filter(arg => arg !== '') ?? []
const WARMUP_MS = 1000
/**
 * Seconds of each workload the load processes run against the first point
 * before any run counts (0: none), so that no run measures their code cold
 */
const LOADER_WARMUP = nonNegative('BENCH_LOADER_WARMUP', 3)
/** the command's --max-connections (5000 by default), above what the load opens */
const MAX_CONNECTIONS = HELD + WARM + 1000
const TTL = 7200
const DISCOVER_NS = 'bench-discover'
const DISCOVER_REGISTERED = 1000
const DISCOVER_LIMIT = 100
const CLIENTS_NS = 'bench-clients'
const REGISTER_NS = 'bench-register'

/**
 * The points, how to start them and what they serve. `held`: measured for
 * new clients and held connections; `perStream`: the stream modes it serves.
 */
const KINDS = {
  echo: {
    name: 'JS echo floor',
    js: true,
    held: true,
    perStream: ['one', 'many'],
    start: async () => startJsonChild([...JS_NODE_ARGS, '--expose-gc', '--import', PROBE, here('./echo.mjs'), '--max-connections', String(MAX_CONNECTIONS)], { ipc: true })
  },
  ours: {
    name: 'libp2p-rendezvous',
    js: true,
    held: true,
    // serves many requests per stream, closing one idle for 10 s
    streams: true,
    perStream: ['one', 'many'],
    // the per-peer rate limit is raised: each workload client sends
    // thousands of requests a second; it still runs on every request. And
    // the connection limit, for more than 5000 held connections
    start: async () => startCommand(['--max-requests-per-peer', '1000000000', '--max-connections', String(MAX_CONNECTIONS)], JS_NODE_ARGS)
  },
  go: {
    name: 'go-libp2p-rendezvous',
    held: true,
    streams: true,
    perStream: ['one', 'many'],
    start: async () => startJsonChild(['point', '--resource-limits', 'unlimited'], { command: GO })
  },
  rust: {
    name: 'rust-libp2p',
    held: true,
    // it reads one request per stream, and verifies only its own format
    perStream: ['one'],
    format: 'legacy',
    start: async () => startJsonChild(['point', '--idle-timeout', '86400'], { command: RUST })
  },
  canvas: {
    name: 'canvas-js',
    held: false,
    perStream: ['one', 'many'],
    start: async () => startJsonChild([CANVAS, 'point'], { env: { CANVAS_MAX_DISCOVER_LIMIT: String(DISCOVER_LIMIT) } })
  }
}

const sleep = async (ms) => new Promise(resolve => setTimeout(resolve, ms))

/**
 * The sizes of a REGISTER and a DISCOVER and their responses, for the echo
 * floor's requests: a standard record of a client, a page of 100 of them
 */
async function messageSizes () {
  const privateKey = await generateKeyPair('Ed25519')
  const record = await sealPeerRecord(privateKey, peerIdFromPrivateKey(privateKey), [multiaddr('/ip4/127.0.1.1/tcp/4001')])
  const register = Message.encode({ type: Message.MessageType.REGISTER, register: { ns: REGISTER_NS, signedPeerRecord: record, ttl: BigInt(TTL) } })
  const registerResponse = Message.encode({ type: Message.MessageType.REGISTER_RESPONSE, registerResponse: { status: Message.ResponseStatus.OK, statusText: '', ttl: BigInt(TTL) } })
  const discover = Message.encode({ type: Message.MessageType.DISCOVER, discover: { ns: DISCOVER_NS, limit: BigInt(DISCOVER_LIMIT) } })
  const discoverResponse = Message.encode({
    type: Message.MessageType.DISCOVER_RESPONSE,
    discoverResponse: {
      status: Message.ResponseStatus.OK,
      statusText: '',
      // our cookies are 8 bytes, the namespace and a 16-byte MAC
      cookie: new Uint8Array(8 + DISCOVER_NS.length + 16),
      registrations: Array.from({ length: DISCOVER_LIMIT }, () => ({ ns: DISCOVER_NS, signedPeerRecord: record, ttl: BigInt(TTL) }))
    }
  })

  return {
    register: { request: register.byteLength, response: registerResponse.byteLength },
    discover: { request: discover.byteLength, response: discoverResponse.byteLength }
  }
}

/**
 * The workloads a point is measured with
 */
function workloadsOf (kindName, sizes) {
  const kind = KINDS[kindName]
  const format = kind.format ?? 'standard'
  const list = kindName === 'echo'
    ? [
        { name: 'register-same', kind: 'echo', protocol: ECHO_PROTOCOL, bytes: Buffer.from(echoRequest(sizes.register.request, sizes.register.response)).toString('base64') },
        { name: 'discover', kind: 'echo', protocol: ECHO_PROTOCOL, bytes: Buffer.from(echoRequest(sizes.discover.request, sizes.discover.response)).toString('base64') }
      ]
    : [
        { name: 'register-same', kind: 'register', record: 'same', format, ns: REGISTER_NS, ttl: TTL, protocol: PROTOCOL },
        ...(kindName === 'canvas' ? [] : [{ name: 'register-fresh', kind: 'register', record: 'fresh', format, ns: REGISTER_NS, ttl: TTL, protocol: PROTOCOL }]),
        { name: 'discover', kind: 'discover', ns: DISCOVER_NS, limit: DISCOVER_LIMIT, expect: DISCOVER_LIMIT, protocol: PROTOCOL }
      ]

  return [...list.flatMap(workload => kind.perStream.map(perStream => ({ ...workload, perStream }))), ...(kind.held ? [{ name: 'ping', kind: 'ping', perStream: 'one' }] : [])]
    .filter(workload => WORKLOADS == null || WORKLOADS.includes(workload.name) || WORKLOADS.includes(`${workload.name}/${workload.perStream}`))
}

/**
 * Sends a command to every load process and merges their answers
 */
async function everyLoader (loaders, command) {
  const results = await Promise.all(loaders.map(async loader => loader.send(command)))

  if (results.every(result => result == null)) {
    return null
  }

  const latencies = results.flatMap(result => result.latencies).sort((a, b) => a - b)
  return {
    ok: results.reduce((sum, result) => sum + result.ok, 0),
    failed: results.reduce((sum, result) => sum + result.failed, 0),
    firstFailure: results.find(result => result.firstFailure != null)?.firstFailure,
    latencies
  }
}

function latencySummary (latencies) {
  return { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)), max: round(latencies.at(-1) ?? 0) }
}

/**
 * Connects a set of clients, `[from, to)` of each load process's, to a point
 */
async function connect (loaders, point, kindName, sizes, set, from, to) {
  const kind = KINDS[kindName]
  const echo = kindName === 'echo'
  const result = await everyLoader(loaders, {
    cmd: 'connect',
    set,
    multiaddr: point.info.multiaddrs[0],
    format: kind.format ?? 'standard',
    protocol: echo ? ECHO_PROTOCOL : PROTOCOL,
    bytes: echo ? Buffer.from(echoRequest(sizes.register.request, sizes.register.response)).toString('base64') : undefined,
    concurrency: CONNECT_CONCURRENCY,
    from,
    to,
    // the first DISCOVER_REGISTERED main clients fill the DISCOVER namespace
    discoverNs: DISCOVER_NS,
    discoverCount: set === 'main' ? DISCOVER_REGISTERED : 0,
    ns: CLIENTS_NS,
    ttl: TTL
  })

  if (result.failed > 0) {
    throw new Error(`${result.failed} of ${result.failed + result.ok} clients could not connect to the ${kindName} point: ${result.firstFailure}`)
  }

  return result
}

/**
 * New clients, held connections and idle CPU, on a point started afresh
 */
async function connections (loaders, point, kindName, sizes, run) {
  const perLoader = HELD / LOADERS

  await connect(loaders, point, kindName, sizes, 'warm')
  await everyLoader(loaders, { cmd: 'hangup', set: 'warm' })
  await quiet(point.pid)
  // every resident-memory reading is taken as long after the point went
  // quiet: our point, the echo floor and Go's runtime hand memory back then
  await sleep(IDLE_WAIT * 1000)

  const rssBefore = rssBytes(point.pid)
  const heapBefore = KINDS[kindName].js ? await point.memory() : undefined
  await quiet(point.pid)
  const cpuBefore = cpuTime(point.pid)
  const callsBefore = syscalls(point.pid)
  const first = await connect(loaders, point, kindName, sizes, 'main', 0, perLoader / 2)
  await quiet(point.pid)
  // a reading of /proc costs the point nothing; the second half follows at
  // once, as the rest of one burst
  const cpuHalf = cpuTime(point.pid)
  const second = await connect(loaders, point, kindName, sizes, 'main', perLoader / 2, perLoader)
  await quiet(point.pid)
  const cpuAfter = cpuTime(point.pid)
  const callsAfter = syscalls(point.pid)
  const rssBusy = rssBytes(point.pid)
  await sleep(IDLE_WAIT * 1000)
  const rssAfter = rssBytes(point.pid)
  // what the point spends going quiet (handing memory back) is not a new
  // client's: it is reported on its own
  const cpuQuiet = cpuTime(point.pid) - cpuAfter
  let idle

  if (run === 0) {
    // before the heap is read: full garbage collections leave work behind
    const idleBefore = cpuTime(point.pid)
    await sleep(IDLE_SECONDS * 1000)
    idle = { seconds: IDLE_SECONDS, cpuUsPerConnectionPerMinute: round((cpuTime(point.pid) - idleBefore) * 1000 / HELD / (IDLE_SECONDS / 60), 2) }
  }

  const heapAfter = KINDS[kindName].js ? await point.memory() : undefined
  const latencies = [...first.latencies, ...second.latencies].sort((a, b) => a - b)

  const result = {
    newClient: {
      clients: HELD,
      cpuMsPerClient: round((cpuAfter - cpuBefore) / HELD, 3),
      cpuMsPerClientSecondHalf: round((cpuAfter - cpuHalf) / (HELD / 2), 3),
      writesPerClient: round((callsAfter.writes - callsBefore.writes) / HELD, 1),
      readsPerClient: round((callsAfter.reads - callsBefore.reads) / HELD, 1),
      latency: latencySummary(latencies),
      // CPU in the IDLE_WAIT s after the burst, when our point and the echo
      // floor hand back the memory it took
      cpuMsGoingQuiet: round(cpuQuiet, 1)
    },
    held: {
      connections: HELD,
      rssBefore,
      rssAfter,
      rssKBPerConnection: round((rssAfter - rssBefore) / HELD / 1024, 1),
      rssKBPerConnectionBusy: round((rssBusy - rssBefore) / HELD / 1024, 1),
      heapKBPerConnection: heapAfter == null ? undefined : round((heapAfter.memory.heapUsed - heapBefore.memory.heapUsed) / HELD / 1024, 1),
      externalKBPerConnection: heapAfter == null ? undefined : round((heapAfter.memory.external - heapBefore.memory.external) / HELD / 1024, 1)
    },
    idle
  }

  log(`${kindName} run ${run + 1}: new client ${result.newClient.cpuMsPerClient} ms CPU (second half ${result.newClient.cpuMsPerClientSecondHalf}; ${result.newClient.writesPerClient} writes, ${result.newClient.readsPerClient} reads), connect p50 ${result.newClient.latency.p50} ms; held: RSS ${result.held.rssKBPerConnection} KB/connection (at the burst's end ${result.held.rssKBPerConnectionBusy}; ${result.newClient.cpuMsGoingQuiet} ms CPU going quiet)${heapAfter == null ? '' : `, heap ${result.held.heapKBPerConnection} KB`}`)

  if (idle != null) {
    log(`${kindName}: idle ${idle.cpuUsPerConnectionPerMinute} µs CPU per held connection per minute`)
  }

  // a stream kept open on every connection, idle after one request: what a
  // client that polls on one stream costs the point between polls
  if (KINDS[kindName].streams === true) {
    const opened = await everyLoader(loaders, { cmd: 'streams', ns: DISCOVER_NS })

    if (opened.failed > 0) {
      throw new Error(`${opened.failed} streams could not be opened: ${opened.firstFailure}`)
    }

    // as long after the point went quiet as the other readings, but before
    // it closes them, 10 s after their last request
    await quiet(point.pid)
    await sleep(Math.min(IDLE_WAIT * 1000, 8000))
    const rssStreams = rssBytes(point.pid)
    const heapStreams = KINDS[kindName].js ? await point.memory() : undefined
    result.idleStream = {
      rssKB: round((rssStreams - rssAfter) / HELD / 1024, 2),
      heapKB: heapStreams == null ? undefined : round((heapStreams.memory.heapUsed - heapAfter.memory.heapUsed) / HELD / 1024, 2)
    }
    log(`${kindName} run ${run + 1}: an idle stream on every connection: RSS ${result.idleStream.rssKB} KB${heapStreams == null ? '' : `, heap ${result.idleStream.heapKB} KB`} per stream`)
    await everyLoader(loaders, { cmd: 'close-streams' })
  }

  // what stays once the clients have left: their registrations, and what
  // else the point keeps about them; then the workload clients come back
  await everyLoader(loaders, { cmd: 'hangup', set: 'main' })
  await quiet(point.pid)
  await sleep(IDLE_WAIT * 1000)
  const heapGone = KINDS[kindName].js ? await point.memory() : undefined
  result.gone = {
    rssKBPerPeer: round((rssBytes(point.pid) - rssBefore) / HELD / 1024, 1),
    heapKBPerPeer: heapGone == null ? undefined : round((heapGone.memory.heapUsed - heapBefore.memory.heapUsed) / HELD / 1024, 2)
  }
  log(`${kindName} run ${run + 1}: after every client left, RSS ${result.gone.rssKBPerPeer} KB per registered peer${heapGone == null ? '' : `, heap ${result.gone.heapKBPerPeer} KB`}`)
  await connect(loaders, point, kindName, sizes, 'main', 0, WORKLOAD_CLIENTS / LOADERS)

  return result
}

/**
 * Drives one workload from every load process and reads the point's CPU
 */
async function drive (loaders, point, workload, ms) {
  const callsBefore = syscalls(point.pid)
  const before = cpuTime(point.pid)
  const loadersBefore = loadersCpu(loaders)
  const started = performance.now()
  const result = await everyLoader(loaders, { cmd: 'drive', workload, ms, inflight: INFLIGHT, perStream: workload.perStream })
  const elapsed = performance.now() - started
  const cpu = cpuTime(point.pid) - before
  const loaderCpu = loadersCpu(loaders) - loadersBefore
  const calls = syscalls(point.pid)

  return {
    opsPerSecond: Math.round(result.ok / (elapsed / 1000)),
    ok: result.ok,
    failed: result.failed,
    firstFailure: result.firstFailure,
    ...latencySummary(result.latencies),
    pointCpuUsPerRequest: round(cpu * 1000 / Math.max(1, result.ok), 1),
    pointCpuShare: round(cpu / elapsed),
    // the load shares the machine's cores with the point: what it spends
    // per request counts against every point's rate alike
    loaderCpuUsPerRequest: round(loaderCpu * 1000 / Math.max(1, result.ok), 1),
    pointWritesPerRequest: round((calls.writes - callsBefore.writes) / Math.max(1, result.ok), 2),
    pointReadsPerRequest: round((calls.reads - callsBefore.reads) / Math.max(1, result.ok), 2)
  }
}

/**
 * Runs every workload of `kindName` for LOADER_WARMUP seconds on a point
 * started for it, and measures nothing: the load processes' code then runs
 * warm from the first measured run on
 */
async function warmLoaders (loaders, kindName, sizes, records) {
  const kind = KINDS[kindName]
  const point = await kind.start()

  try {
    if (!kind.held) {
      await point.send({ cmd: 'preload', ns: DISCOVER_NS, file: records, ttl: TTL })
    }

    await connect(loaders, point, kindName, sizes, 'main', 0, WORKLOAD_CLIENTS / LOADERS)

    for (const workload of workloadsOf(kindName, sizes)) {
      await drive(loaders, point, workload, LOADER_WARMUP * 1000)
    }
  } finally {
    await everyLoader(loaders, { cmd: 'hangup', set: 'main' })
    await point.stop()
  }
}

/**
 * The CPU time of every load process together, in ms
 */
function loadersCpu (loaders) {
  return loaders.reduce((sum, loader) => sum + cpuTime(loader.pid), 0)
}

/**
 * One run of one point: started afresh, measured, stopped
 */
async function measure (loaders, kindName, sizes, records, run) {
  const kind = KINDS[kindName]
  const point = await kind.start()
  const result = { workloads: {} }

  try {
    if (kind.held) {
      Object.assign(result, await connections(loaders, point, kindName, sizes, run))
    } else {
      // canvas: registrations straight into its store, and the workload
      // clients only
      await point.send({ cmd: 'preload', ns: DISCOVER_NS, file: records, ttl: TTL })
      await connect(loaders, point, kindName, sizes, 'main', 0, WORKLOAD_CLIENTS / LOADERS)
    }

    for (const workload of workloadsOf(kindName, sizes)) {
      const key = `${workload.name}/${workload.perStream}`
      await drive(loaders, point, workload, WARMUP_MS)
      const measured = await drive(loaders, point, workload, SECONDS * 1000)
      result.workloads[key] = measured
      log(`${kindName} run ${run + 1} ${key}: ${measured.opsPerSecond} ops/s, point CPU ${measured.pointCpuUsPerRequest} µs/request (${measured.pointWritesPerRequest} writes, ${measured.pointReadsPerRequest} reads), load processes ${measured.loaderCpuUsPerRequest} µs/request, p50 ${measured.p50} ms, p99 ${measured.p99} ms${measured.failed > 0 ? `, ${measured.failed} failed (${measured.firstFailure})` : ''}`)
    }

  } finally {
    await everyLoader(loaders, { cmd: 'hangup', set: 'main' })
    await point.stop()
  }

  return result
}

/**
 * Writes DISCOVER_REGISTERED signed peer records of distinct peers as JSON
 * lines `{peerId, record}`, for canvas's store
 */
async function writeRecords (file) {
  const lines = []

  for (let i = 0; i < DISCOVER_REGISTERED; i++) {
    const privateKey = await generateKeyPair('Ed25519')
    const peerId = peerIdFromPrivateKey(privateKey)
    const record = await sealPeerRecord(privateKey, peerId, [multiaddr(`/ip4/10.0.${i >> 8}.${i & 255}/tcp/4001`)])
    lines.push(JSON.stringify({ peerId: peerId.toString(), record: Buffer.from(record).toString('base64') }))
  }

  await writeFile(file, `${lines.join('\n')}\n`)
}

/**
 * The median of each figure over the runs
 */
function medians (runs) {
  const out = {}

  for (const kindName of Object.keys(runs[0])) {
    const of = (pick) => {
      const values = runs.map(run => pick(run[kindName])).filter(value => value != null)
      return values.length === 0 ? undefined : median(values)
    }
    const first = runs.map(run => run[kindName]).find(result => result.failed == null) ?? runs[0][kindName]
    out[kindName] = {
      newClientCpuMs: of(run => run.newClient?.cpuMsPerClient),
      connectP50Ms: of(run => run.newClient?.latency.p50),
      rssKBPerConnection: of(run => run.held?.rssKBPerConnection),
      rssKBPerConnectionBusy: of(run => run.held?.rssKBPerConnectionBusy),
      cpuMsGoingQuiet: of(run => run.newClient?.cpuMsGoingQuiet),
      heapKBPerConnection: of(run => run.held?.heapKBPerConnection),
      goneRssKBPerPeer: of(run => run.gone?.rssKBPerPeer),
      idleStreamRssKB: of(run => run.idleStream?.rssKB),
      idleStreamHeapKB: of(run => run.idleStream?.heapKB),
      goneHeapKBPerPeer: of(run => run.gone?.heapKBPerPeer),
      idleCpuUsPerConnectionPerMinute: first.idle?.cpuUsPerConnectionPerMinute,
      workloads: Object.fromEntries(Object.keys(first.workloads).map(key => [key, {
        opsPerSecond: of(run => run.workloads[key]?.opsPerSecond),
        pointCpuUsPerRequest: of(run => run.workloads[key]?.pointCpuUsPerRequest),
        pointWritesPerRequest: of(run => run.workloads[key]?.pointWritesPerRequest),
        loaderCpuUsPerRequest: of(run => run.workloads[key]?.loaderCpuUsPerRequest),
        p50: of(run => run.workloads[key]?.p50),
        p99: of(run => run.workloads[key]?.p99),
        failed: runs.reduce((sum, run) => sum + (run[kindName].workloads[key]?.failed ?? 0), 0)
      }]))
    }
  }

  return out
}

async function main () {
  for (const [kindName, binary] of [['go', GO], ['rust', RUST], ['canvas', here('../interop/canvas/node_modules')]]) {
    if (POINTS.includes(kindName) && !existsSync(binary)) {
      throw new Error(`the ${kindName} point is not built: run bash scripts/setup-interop.sh`)
    }
  }

  const dir = await mkdtemp(path.join(os.tmpdir(), 'rendezvous-points-'))
  const started = performance.now()
  let loaders = []

  try {
    const sizes = await messageSizes()
    const records = path.join(dir, 'records.jsonl')

    if (POINTS.includes('canvas')) {
      await writeRecords(records)
    }

    const perLoader = HELD / LOADERS
    const warmPerLoader = Math.ceil(WARM / LOADERS)

    if (!Number.isInteger(perLoader) || perLoader % 2 !== 0 || WORKLOAD_CLIENTS % LOADERS !== 0) {
      throw new Error('BENCH_HELD must be an even multiple of BENCH_LOADERS, and BENCH_WORKLOAD_CLIENTS a multiple of it')
    }

    log(`starting ${LOADERS} load processes with ${HELD} clients and ${warmPerLoader * LOADERS} warm-up clients`)
    loaders = await Promise.all(Array.from({ length: LOADERS }, async (_, l) => startJsonChild([here('./load.mjs')], {
      env: {
        LOAD_FIRST: String(l * perLoader),
        LOAD_COUNT: String(perLoader),
        LOAD_WARM_FIRST: String(HELD + l * warmPerLoader),
        LOAD_WARM: String(warmPerLoader),
        LOAD_WORKLOAD_CLIENTS: String(WORKLOAD_CLIENTS / LOADERS)
      }
    })))

    if (LOADER_WARMUP > 0) {
      log(`warming the load processes on the ${POINTS[0]} point, ${LOADER_WARMUP} s a workload`)
      await warmLoaders(loaders, POINTS[0], sizes, records)
    }

    const runs = []

    for (let run = 0; run < RUNS; run++) {
      const results = {}

      // each run starts from another point, so that none always follows
      // the same one: the ratios to the echo floor compare runs minutes apart
      for (const kindName of POINTS.map((_, i) => POINTS[(i + run) % POINTS.length])) {
        try {
          results[kindName] = await measure(loaders, kindName, sizes, records, run)
        } catch (err) {
          // one point failing (a third-party one that exits under load) costs
          // its run, not the whole benchmark: its medians come from the others
          log(`${kindName} run ${run + 1} failed: ${err.message}`)
          results[kindName] = { failed: err.message, workloads: {} }
        }
      }

      runs.push(results)
    }

    const result = {
      date: new Date().toISOString(),
      machine: machine(),
      seconds: Math.round((performance.now() - started) / 1000),
      parameters: { held: HELD, loaders: LOADERS, loaderWarmup: LOADER_WARMUP, warm: warmPerLoader * LOADERS, connectConcurrency: CONNECT_CONCURRENCY * LOADERS, workloadClients: WORKLOAD_CLIENTS, inflight: INFLIGHT, seconds: SECONDS, runs: RUNS, idleWait: IDLE_WAIT, idleSeconds: IDLE_SECONDS, ttl: TTL, discoverRegistered: DISCOVER_REGISTERED, discoverLimit: DISCOVER_LIMIT, sizes },
      points: Object.fromEntries(POINTS.map(kindName => [kindName, KINDS[kindName].name])),
      medians: medians(runs),
      runs
    }

    process.stderr.write(`\n${pointsReport(result)}\n`)
    process.stdout.write(`${JSON.stringify(result)}\n`)
  } finally {
    await Promise.all(loaders.map(async loader => loader.stop()))
    await rm(dir, { recursive: true, force: true })
  }
}

main().catch(err => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})

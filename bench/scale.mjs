#!/usr/bin/env node
/**
 * How the in-memory store scales: heap bytes per registration, the latency of
 * a DISCOVER page with a cookie and the CPU of a refresh as the store grows,
 * and what expiring a million registrations at once costs the operations
 * served meanwhile.
 *
 * Run `node_modules/.bin/node bench/scale.mjs` after `npm run build`. Each
 * measurement runs BENCH_RUNS times, each time in a child process of its own
 * (this file with --expose-gc and a mode), so heaps never mix; medians are
 * reported. Progress goes to stderr, the results as one JSON line to stdout.
 *
 * Registrations are what the point stores for a REGISTER: a real Ed25519
 * peer id string (made from a random public key as `remotePeer.toString()`
 * makes it), a namespace string decoded per request and a `slice()` copy, as
 * the server makes, of one real signed peer record with its last bytes varied.
 *
 * Environment: BENCH_RUNS (3), BENCH_SCALE_SIZES (10000,100000,1000000),
 * BENCH_PAGE_SIZES (1000,100000,1000000), BENCH_PAGES (2000),
 * BENCH_EXPIRY_SIZE (1000000), BENCH_EXPIRY_INTERVAL (1000 ms),
 * BENCH_EXPIRY_DELAY (20000 ms), BENCH_BREAKDOWN_SIZE (20000), BENCH_REFRESHES
 * (100000).
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, rmSync } from 'node:fs'
import os from 'node:os'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { writeHeapSnapshot } from 'node:v8'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { HOUR } from '../dist/src/constants.js'
import { MemoryRegistrationStore } from '../dist/src/server/memory-store.js'
import { log, machine, median, positive, positiveList, quantile, round, signedPeerRecord } from './lib.mjs'

const SELF = fileURLToPath(import.meta.url)
const RUNS = positive('BENCH_RUNS', 3)
const SCALE_SIZES = positiveList('BENCH_SCALE_SIZES', [10_000, 100_000, 1_000_000])
const PAGE_SIZES = positiveList('BENCH_PAGE_SIZES', [1000, 100_000, 1_000_000])
const PAGES = positive('BENCH_PAGES', 2000)
const EXPIRY_SIZE = positive('BENCH_EXPIRY_SIZE', 1_000_000)
const EXPIRY_INTERVAL = positive('BENCH_EXPIRY_INTERVAL', 1000)
const EXPIRY_DELAY = positive('BENCH_EXPIRY_DELAY', 20_000)
const BREAKDOWN_SIZE = positive('BENCH_BREAKDOWN_SIZE', 20_000)
const REFRESHES = positive('BENCH_REFRESHES', 100_000)
/** How many peers refresh, in turn */
const REFRESHING = 8
/** How many times one peer registers and unregisters, and over how many of the last it is timed */
const CYCLES = 100_000
const TIMED_CYCLES = 10_000
const NAMESPACE = 'bench-namespace'
const NAMESPACE_BYTES = new TextEncoder().encode(NAMESPACE)
const LIMIT = 100
const WARMUP_PAGES = 500
/** How many of the newest registrations the cursors of frequent pollers fall among */
const RECENT = 1000
const TARGET_OVERHEAD = 250
const MAX_OP_LATENCY = 50
/** The concurrent load issues one operation per this many ms */
const LOAD_PERIOD = 1
/** How long after the expiry a reclaim may take before the run fails */
const GIVE_UP = 120_000
const LIMITS = { maxRegistrationsPerPeer: 1000, maxRegistrations: Number.MAX_SAFE_INTEGER, maxStoreBytes: Number.MAX_SAFE_INTEGER, maxRegistrationsPerHost: Number.MAX_SAFE_INTEGER }

/** One real signed peer record envelope with a single TCP address */
async function recordTemplate () {
  return signedPeerRecord(await generateKeyPair('Ed25519'), [multiaddr('/ip4/203.0.113.7/tcp/4001')])
}

/**
 * `n` registrations as the point would store them, made lazily so that only
 * the store keeps them
 *
 * @param {number} n - how many
 * @param {Uint8Array} template - the signed peer record to copy
 * @param {number} expiresAt - their expiry, ms since the epoch
 */
function * registrations (n, template, expiresAt) {
  const decoder = new TextDecoder()
  let keys = randomBytes(0)

  for (let i = 0; i < n; i++) {
    if (i % 1024 === 0) {
      keys = randomBytes(32 * 1024)
    }

    const offset = (i % 1024) * 32
    const signedPeerRecord = template.slice()
    signedPeerRecord[signedPeerRecord.length - 1] = i & 0xff
    signedPeerRecord[signedPeerRecord.length - 2] = (i >> 8) & 0xff

    yield {
      peerId: peerIdFromPublicKey(publicKeyFromRaw(keys.subarray(offset, offset + 32))).toString(),
      // each REGISTER decodes a namespace string of its own
      namespace: decoder.decode(NAMESPACE_BYTES),
      signedPeerRecord,
      expiresAt
    }
  }
}

/**
 * Puts registrations in the store and returns their sequences
 *
 * @param {MemoryRegistrationStore} store - the store
 * @param {Iterable<object>} items - the registrations
 */
async function fill (store, items) {
  const sequences = []

  for (const item of items) {
    sequences.push((await store.put(item, LIMITS)).sequence)
  }

  return sequences
}

async function heapChild (n) {
  const template = await recordTemplate()
  const store = new MemoryRegistrationStore()
  globalThis.gc()
  const before = process.memoryUsage()
  await fill(store, registrations(n, template, Date.now() + HOUR))
  globalThis.gc()
  const after = process.memoryUsage()
  const per = (key) => (after[key] - before[key]) / n

  return {
    recordBytes: template.byteLength,
    bytesPerRegistration: per('heapUsed') + per('external'),
    ...Object.fromEntries(['heapUsed', 'external', 'arrayBuffers', 'rss'].map(key => [`${key}PerRegistration`, per(key)]))
  }
}

/**
 * Bytes and objects by kind in a heap snapshot, which it then deletes
 *
 * @param {string} file - the .heapsnapshot
 */
function snapshotSizes (file) {
  const { snapshot, nodes, strings } = JSON.parse(readFileSync(file, 'utf8'))
  const fields = snapshot.meta.node_fields
  const types = snapshot.meta.node_types[0]
  const [type, name, size] = ['type', 'name', 'self_size'].map(field => fields.indexOf(field))
  const sizes = new Map()

  for (let i = 0; i < nodes.length; i += fields.length) {
    const kind = types[nodes[i + type]]
    // objects by constructor, internal arrays and native data by V8's label
    const key = ['object', 'array', 'hidden', 'native'].includes(kind) ? `${kind}: ${strings[nodes[i + name]]}` : kind
    const entry = sizes.get(key) ?? sizes.set(key, { bytes: 0, count: 0 }).get(key)
    entry.bytes += nodes[i + size]
    entry.count++
  }

  rmSync(file)
  return sizes
}

/**
 * What kinds of objects one registration adds, from heap snapshots before
 * and after
 *
 * @param {number} n - registrations
 */
async function breakdownChild (n) {
  const template = await recordTemplate()
  const store = new MemoryRegistrationStore()
  const snapshot = () => snapshotSizes(writeHeapSnapshot(join(os.tmpdir(), `scale-${process.pid}.heapsnapshot`)))
  const before = snapshot()
  await fill(store, registrations(n, template, Date.now() + HOUR))
  const after = snapshot()
  const rows = [...after].map(([kind, { bytes, count }]) => ({
    kind,
    bytesPerRegistration: round((bytes - (before.get(kind)?.bytes ?? 0)) / n, 1),
    objectsPerRegistration: round((count - (before.get(kind)?.count ?? 0)) / n, 2)
  })).filter(row => Math.abs(row.bytesPerRegistration) >= 0.5).sort((a, b) => b.bytesPerRegistration - a.bytesPerRegistration)

  return { registrations: n, recordBytes: template.byteLength, totalBytesPerRegistration: round(rows.reduce((sum, row) => sum + row.bytesPerRegistration, 0), 1), kinds: rows }
}

async function pageChild (n) {
  const store = new MemoryRegistrationStore()
  const sequences = await fill(store, registrations(n, await recordTemplate(), Date.now() + HOUR))
  // pages after cursors drawn from [from, n - LIMIT), so each page is full, in µs
  const pages = async (from) => {
    const times = []

    for (let i = 0; i < WARMUP_PAGES + PAGES; i++) {
      const after = sequences[from + Math.floor(Math.random() * Math.max(1, n - LIMIT - from))]
      const started = performance.now()
      await store.discover({ namespace: NAMESPACE, after, limit: LIMIT, now: Date.now() })
      times.push((performance.now() - started) * 1000)
    }

    return times.slice(WARMUP_PAGES).sort((a, b) => a - b)
  }
  const times = await pages(0)
  // cursors among the newest registrations, as clients that poll often carry
  const recent = await pages(Math.max(0, n - LIMIT - RECENT))
  // a DISCOVER without a cookie once every registration has expired but
  // none was reclaimed yet, as between a mass expiry and the next sweep
  const scans = []

  for (let i = 0; i < 5; i++) {
    const started = performance.now()
    await store.discover({ namespace: NAMESPACE, after: 0, limit: LIMIT, now: Number.MAX_SAFE_INTEGER })
    scans.push(performance.now() - started)
  }

  return { p50Us: quantile(times, 0.5), p99Us: quantile(times, 0.99), maxUs: times.at(-1), recentP50Us: quantile(recent, 0.5), recentP99Us: quantile(recent, 0.99), expiredScanMs: median(scans) }
}

/**
 * What a REGISTER refreshing a registration the point holds costs the store
 * as it grows: `n` registrations, each of its own peer and host, then
 * REFRESHES refreshes of REFRESHING peers in turn, as clients that refresh
 * often (or a load generator) send them, in µs per refresh
 *
 * @param {number} n - registrations held besides the refreshing ones
 */
async function refreshChild (n) {
  const store = new MemoryRegistrationStore()
  const template = await recordTemplate()
  const expiresAt = Date.now() + HOUR
  const hosted = (item, i) => ({ ...item, host: `ip4/${(i >>> 24) & 0xff}.${(i >>> 16) & 0xff}.${(i >>> 8) & 0xff}.${i & 0xff}/32` })
  let i = 0

  for (const item of registrations(n, template, expiresAt)) {
    await store.put(hosted(item, i++), LIMITS)
  }

  const refreshing = [...registrations(REFRESHING, template, expiresAt)].map(item => hosted(item, i++))
  await fill(store, refreshing)
  globalThis.gc()
  const times = []

  for (let round = 0; round < 5; round++) {
    const started = performance.now()

    for (let r = 0; r < REFRESHES; r++) {
      const item = refreshing[r % REFRESHING]
      // a copy of the record, as the server makes of each request's
      await store.put({ ...item, signedPeerRecord: item.signedPeerRecord.slice() }, LIMITS)
    }

    times.push((performance.now() - started) * 1000 / REFRESHES)
  }

  // one more peer, alone at its host, registering and unregistering again
  // and again, as a peer may at its rate limit: timed over the last cycles
  const cycling = hosted([...registrations(1, template, expiresAt)][0], i++)
  let cycleStarted = 0

  for (let cycle = 0; cycle < CYCLES; cycle++) {
    if (cycle === CYCLES - TIMED_CYCLES) {
      cycleStarted = performance.now()
    }

    await store.put({ ...cycling, signedPeerRecord: cycling.signedPeerRecord.slice() }, LIMITS)
    await store.delete(cycling.peerId, cycling.namespace)
  }

  return { registrations: n + REFRESHING, usPerRefresh: median(times), usPerCycle: (performance.now() - cycleStarted) * 1000 / TIMED_CYCLES }
}

/**
 * Latency figures of operations
 *
 * @param {number[]} values - latencies in ms
 */
function latencies (values) {
  const sorted = [...values].sort((a, b) => a - b)
  return { count: sorted.length, p50: round(quantile(sorted, 0.5)), p99: round(quantile(sorted, 0.99)), max: round(sorted.at(-1) ?? 0) }
}

/**
 * Expires `n` registrations at one instant while a load of one operation per
 * ms runs: a PUT of a new registration then a DISCOVER page ('put+discover'),
 * or DISCOVER pages only ('discover'), so that the sweep alone reclaims. The
 * DISCOVERs carry the cursor of a client that polled just before the expiry,
 * so they cost O(limit); what a scan over expired registrations costs is
 * measured by the page mode.
 *
 * @param {number} n - registrations to expire
 * @param {'put+discover' | 'discover'} load - the concurrent load
 */
async function expiryChild (n, load) {
  const store = new MemoryRegistrationStore({ expiryInterval: EXPIRY_INTERVAL })
  const template = await recordTemplate()
  // made before the clock starts, so the store is filled in well under the delay
  let items = [...registrations(n, template, 0)]
  const fresh = [...registrations(60_000, template, 0)]
  const expiresAt = Date.now() + EXPIRY_DELAY
  items.forEach(item => { item.expiresAt = expiresAt })
  const cursor = (await fill(store, items)).at(-1)
  items = undefined
  globalThis.gc()

  if (Date.now() > expiresAt - 500) {
    throw new Error('the store filled too slowly: raise BENCH_EXPIRY_DELAY')
  }

  // who reclaims what, and at what cost: a PUT reclaims a batch first thing,
  // synchronously, before its first await
  const removal = { sweep: 0, puts: 0, sweepBatches: 0, cpuMs: 0, longestMs: 0 }
  let inPut = false
  let firstRemoval
  const removeExpired = store.removeExpired.bind(store)
  store.removeExpired = (now, max) => {
    const cpu = process.cpuUsage()
    const at = performance.now()
    const count = removeExpired(now, max)

    if (count > 0) {
      firstRemoval ??= { at, cpu }
      removal[inPut ? 'puts' : 'sweep'] += count
      removal.sweepBatches += inPut ? 0 : 1
      removal.cpuMs += cpuMs(cpu, process.cpuUsage())
      removal.longestMs = Math.max(removal.longestMs, performance.now() - at)
    }

    return count
  }

  const reclaimDelay = monitorEventLoopDelay({ resolution: 1 })
  const expiresAtPerf = performance.now() + (expiresAt - Date.now())
  const loadStart = performance.now()
  const ops = []
  let putCount = 0
  let done
  store.start()
  setTimeout(() => { reclaimDelay.enable() }, Math.max(0, expiresAtPerf - performance.now() - 5))

  // one operation per LOAD_PERIOD, each timed from when it was due, so a
  // stalled event loop shows in every operation it delayed; all that fell due
  // during the reclaim are run, however late
  for (let due = performance.now(); done == null || due < done.at; due += LOAD_PERIOD) {
    const wait = due - performance.now()

    // always through the event loop, as requests arrive, so that timers
    // (the sweep's among them) run even when the load falls behind
    await new Promise(resolve => wait > 0 ? setTimeout(resolve, wait) : setImmediate(resolve))

    if (load === 'put+discover') {
      const item = fresh[putCount % fresh.length]
      inPut = true
      const put = store.put({ ...item, signedPeerRecord: template.slice(), expiresAt: Date.now() + HOUR }, LIMITS)
      inPut = false
      await put
      putCount++
      ops.push({ due, ms: performance.now() - due })
    }

    await store.discover({ namespace: NAMESPACE, after: cursor, limit: LIMIT, now: Date.now() })
    ops.push({ due, ms: performance.now() - due })

    if (done == null && performance.now() > expiresAtPerf + GIVE_UP) {
      throw new Error(`${store.count()} registrations left ${GIVE_UP} ms after they expired`)
    }

    if (done == null && firstRemoval != null && store.count() === Math.min(putCount, fresh.length)) {
      done = { at: performance.now(), cpu: process.cpuUsage() }
      reclaimDelay.disable()
    }
  }

  store.stop()

  const inWindow = (from, to) => ops.filter(op => op.due >= from && op.due < to).map(op => op.ms)
  const reclaimOps = latencies(inWindow(firstRemoval.at, done.at))

  return {
    load,
    reclaimed: n,
    reclaimMs: round(done.at - firstRemoval.at),
    windowCpuMs: round(cpuMs(firstRemoval.cpu, done.cpu)),
    removeExpiredCpuMs: round(removal.cpuMs),
    longestRemoveExpiredMs: round(removal.longestMs),
    expiryToReclaimedMs: round(done.at - expiresAtPerf),
    removedBySweep: removal.sweep,
    removedByPuts: removal.puts,
    sweepBatches: removal.sweepBatches,
    eventLoopDelayMs: { p99: round(reclaimDelay.percentile(99) / 1e6), max: round(reclaimDelay.max / 1e6) },
    opLatencyMs: {
      beforeExpiry: latencies(inWindow(loadStart, expiresAtPerf)),
      reclaim: reclaimOps
    },
    maxOpWithin50Ms: reclaimOps.max <= MAX_OP_LATENCY
  }
}

/**
 * CPU time between two readings, in ms
 *
 * @param {NodeJS.CpuUsage} from - process.cpuUsage() before
 * @param {NodeJS.CpuUsage} to - and after
 */
function cpuMs (from, to) {
  return (to.user - from.user + to.system - from.system) / 1000
}

/**
 * Runs this file in a child with --expose-gc, BENCH_RUNS times, and resolves
 * with the JSON each run printed
 *
 * @param {string[]} args - the mode and its arguments
 * @param {(result: object) => string} describe - the progress line of a run
 * @param {number} [times] - how many runs
 */
async function repeat (args, describe, times = RUNS) {
  const runs = []

  for (let run = 0; run < times; run++) {
    const proc = spawn(process.execPath, ['--expose-gc', '--max-old-space-size=8192', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    proc.stdout.on('data', chunk => { out += chunk })
    const code = await new Promise(resolve => proc.once('exit', resolve))

    if (code !== 0) {
      throw new Error(`${args.join(' ')} exited with ${code}`)
    }

    runs.push(JSON.parse(out.trim().split('\n').at(-1)))
    log(`${args.join(' ')} run ${run + 1}: ${describe(runs.at(-1))}`)
  }

  return runs
}

/**
 * The median over runs of each figure picked
 *
 * @param {object[]} runs - results of the same measurement
 * @param {Record<string, (run: object) => number>} picks - name to figure
 */
function medians (runs, picks) {
  return Object.fromEntries(Object.entries(picks).map(([name, pick]) => [name, round(median(runs.map(pick)), 3)]))
}

async function main () {
  const started = performance.now()
  const heap = []

  for (const n of SCALE_SIZES) {
    const runs = await repeat(['heap', String(n)], run => `${round(run.bytesPerRegistration)} B per registration, record ${run.recordBytes} B`)
    const figures = medians(runs, Object.fromEntries(Object.keys(runs[0]).map(key => [key, run => run[key]])))
    heap.push({ registrations: n, ...figures, overheadBytes: round(figures.bytesPerRegistration - figures.recordBytes, 1), meetsTarget: figures.bytesPerRegistration <= figures.recordBytes + TARGET_OVERHEAD, runs: runs.map(run => round(run.bytesPerRegistration, 1)) })
  }

  let breakdown

  if (heap.some(size => !size.meetsTarget)) {
    log(`heap over target: breaking ${BREAKDOWN_SIZE} registrations down by heap snapshot`)
    // object sizes are exact by construction: one run
    breakdown = (await repeat(['breakdown', String(BREAKDOWN_SIZE)], run => `${run.totalBytesPerRegistration} B per registration`, 1))[0]
  }

  const pages = []

  for (const n of PAGE_SIZES) {
    const runs = await repeat(['page', String(n)], run => `p50 ${round(run.p50Us)} µs, p99 ${round(run.p99Us)} µs, among recent p50 ${round(run.recentP50Us)} µs, a scan over expired ones ${round(run.expiredScanMs, 3)} ms`)
    pages.push({ registrations: n, ...medians(runs, Object.fromEntries(Object.keys(runs[0]).map(key => [key, run => run[key]]))), runs: runs.map(run => ({ p50Us: round(run.p50Us, 1), p99Us: round(run.p99Us, 1) })) })
  }

  const refresh = []

  for (const n of SCALE_SIZES) {
    const runs = await repeat(['refresh', String(n)], run => `${round(run.usPerRefresh, 2)} µs per refresh, ${round(run.usPerCycle, 2)} µs per register and unregister, among ${run.registrations} registrations`)
    refresh.push({ registrations: runs[0].registrations, usPerRefresh: round(median(runs.map(run => run.usPerRefresh)), 2), usPerCycle: round(median(runs.map(run => run.usPerCycle)), 2), runs: runs.map(run => ({ usPerRefresh: round(run.usPerRefresh, 2), usPerCycle: round(run.usPerCycle, 2) })) })
  }

  const ratio = round(pages.at(-1).p50Us / pages[0].p50Us)
  const recentRatio = round(pages.at(-1).recentP50Us / pages[0].recentP50Us)
  const expiry = []

  for (const load of ['put+discover', 'discover']) {
    const runs = await repeat(['expiry', String(EXPIRY_SIZE), load], run => `reclaimed in ${run.reclaimMs} ms, ${run.removeExpiredCpuMs} ms CPU in removeExpired, ops p99 ${run.opLatencyMs.reclaim.p99} ms max ${run.opLatencyMs.reclaim.max} ms, loop delay max ${run.eventLoopDelayMs.max} ms`)
    const figures = medians(runs, {
      reclaimMs: run => run.reclaimMs,
      windowCpuMs: run => run.windowCpuMs,
      removeExpiredCpuMs: run => run.removeExpiredCpuMs,
      longestRemoveExpiredMs: run => run.longestRemoveExpiredMs,
      opLatencyP99Ms: run => run.opLatencyMs.reclaim.p99,
      opLatencyMaxMs: run => run.opLatencyMs.reclaim.max,
      eventLoopDelayP99Ms: run => run.eventLoopDelayMs.p99,
      eventLoopDelayMaxMs: run => run.eventLoopDelayMs.max
    })
    expiry.push({ load, ...figures, maxOpWithin50Ms: figures.opLatencyMaxMs <= MAX_OP_LATENCY, runs })
  }

  process.stdout.write(`${JSON.stringify({
    benchmark: 'scale',
    date: new Date().toISOString(),
    machine: machine(),
    command: 'node_modules/.bin/node bench/scale.mjs',
    seconds: round((performance.now() - started) / 1000, 1),
    parameters: {
      runs: RUNS,
      namespaces: 1,
      peerIds: 'real Ed25519 peer id strings (52 chars): peerIdFromPublicKey(publicKeyFromRaw(random 32 bytes)).toString()',
      namespaceStrings: 'one string per registration, decoded from bytes as each REGISTER is',
      records: 'one real signed peer record (Ed25519, one /ip4/.../tcp/... address) copied with slice() per registration, as the server does, last 2 bytes varied',
      pageLimit: LIMIT,
      pages: PAGES,
      warmupPages: WARMUP_PAGES,
      expiryInterval: EXPIRY_INTERVAL,
      loadPeriodMs: LOAD_PERIOD
    },
    heap: {
      measure: 'heapUsed + external delta of process.memoryUsage() after gc, from an empty store to a full one, per registration (external holds the off-heap record bytes); rss for information',
      target: `bytesPerRegistration <= recordBytes + ${TARGET_OVERHEAD}`,
      sizes: heap,
      breakdown
    },
    page: {
      measure: `store.discover({ namespace, after: sequence of a random registration with a full page after it, limit: ${LIMIT} }) in one namespace, µs; recent*: the same with cursors among the newest ${RECENT + LIMIT} registrations, as frequent pollers carry; expiredScanMs: one DISCOVER without a cookie once all have expired and none is reclaimed yet (every entry is walked, the page is empty), ms`,
      sizes: pages,
      p50Ratio: { of: `${pages.at(-1).registrations}/${pages[0].registrations}`, value: ratio, target: 1.5, meetsTarget: ratio <= 1.5 },
      recentP50Ratio: { of: `${pages.at(-1).registrations}/${pages[0].registrations}`, value: recentRatio, target: 1.5, meetsTarget: recentRatio <= 1.5 }
    },
    refresh: {
      measure: `usPerRefresh: store.put() of a registration held, with its record unchanged, ${REFRESHING} peers in turn, ${REFRESHES} times after a gc, the median of 5 rounds, µs per refresh; usPerCycle: one more peer's put() then delete(), ${CYCLES} times, µs per cycle over the last ${TIMED_CYCLES}; every registration has a peer and a host of its own`,
      sizes: refresh
    },
    expiry: {
      measure: `${EXPIRY_SIZE} registrations expire at one instant, the sweep runs every ${EXPIRY_INTERVAL} ms; one operation is due every ${LOAD_PERIOD} ms and timed from when due; the reclaim runs from the first removal until count() is down to the new registrations; windowCpuMs is the process's CPU over it (load and GC included), removeExpiredCpuMs the CPU inside removeExpired() alone; event loop delay by monitorEventLoopDelay (1 ms resolution)`,
      target: `operation latency max <= ${MAX_OP_LATENCY} ms`,
      variants: expiry
    }
  })}\n`)
}

const [mode, size, load] = process.argv.slice(2)
const modes = { heap: heapChild, breakdown: breakdownChild, page: pageChild, expiry: expiryChild, refresh: refreshChild }

if (mode == null) {
  main().catch(err => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
} else {
  modes[mode](Number(size), load).then(result => {
    process.stdout.write(`${JSON.stringify(result)}\n`)
  }, err => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
}

#!/usr/bin/env node
/*
 * Soak: churn against the `rendezvous-server` command, to show that nothing
 * it holds grows with time. Peers keep joining (half of them new identities,
 * half returning ones), register with short TTLs, poll DISCOVER with cookies
 * (on a new stream per request or on one kept open), and leave, some with an
 * UNREGISTER, some by hanging up and letting their registrations expire,
 * keeping SOAK_PEERS connected at a time for SOAK_SECONDS. Then every peer
 * leaves and the point is given the longest TTL and a sweep to reclaim what
 * they registered.
 *
 * A warm-up of SOAK_WARMUP s of the same churn comes first, its peers all
 * unregistering as they leave: what the point holds after it, compiled
 * code and caches included, is the baseline.
 *
 * Every SOAK_SAMPLE s it reads the point's heap after full garbage
 * collections, its RSS, its active handles (bench/probe.mjs) and the latency
 * of the requests in that window. It reports the slopes over the churn and
 * what is left once everyone has gone, against the baseline.
 *
 * `npm run soak` (10 minutes) for BENCHMARKS.md; `npm run soak:ci` (a minute
 * of churn, about two in all) in CI, with SOAK_CHECK=1: it exits with code 1
 * when the heap or the handles left after the churn exceed what the point
 * held before it, within a margin. Latency is reported, never checked.
 *
 * Environment: SOAK_SECONDS (600), SOAK_PEERS (300), SOAK_SAMPLE (10),
 * SOAK_WARMUP (60), SOAK_TTL (the longest TTL, 60 s; the shortest is a
 * third of it), SOAK_CHECK (unset), SOAK_RESULTS (a file for the JSON).
 * Progress goes to stderr, the results as one JSON line to stdout.
 */

import { readFileSync } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL } from '../dist/src/constants.js'
import { Message } from '../dist/src/pb/rendezvous.js'
import { sealPeerRecord } from '../dist/src/signed-peer-record.js'
import { clientHost, cpuTime, loadClientNode, log, machine, positive, quantile, round, rssBytes, startCommand } from './lib.mjs'

const SECONDS = positive('SOAK_SECONDS', 600)
const PEERS = positive('SOAK_PEERS', 300)
const SAMPLE = positive('SOAK_SAMPLE', 10)
const WARMUP = positive('SOAK_WARMUP', 60)
const CHECK = process.env.SOAK_CHECK === '1'
const NAMESPACES = 5
/** registrations last SOAK_TTL / 3 to SOAK_TTL s, so they expire all through the soak */
const TTL_MAX = positive('SOAK_TTL', 60)
const TTL_RANGE = [Math.max(10, Math.round(TTL_MAX / 3)), Math.max(10, TTL_MAX)]
const MIN_TTL = 10
/** a peer stays 10 to 60 s */
const LIFETIME_RANGE = [10_000, 60_000]
/** and polls every 1 to 3 s */
const POLL_RANGE = [1000, 3000]
/** identities a returning peer comes back with */
const RETURNING = 200
/** the memory store's sweep runs every 10 s */
const SWEEP_MS = 10_000
/** what may be left over after the churn beyond the baseline */
const HEAP_MARGIN_BYTES = 1024 * 1024
const HANDLE_MARGIN = 4

const between = ([low, high]) => low + Math.random() * (high - low)
const sleep = async (ms) => new Promise(resolve => setTimeout(resolve, ms))

/** identities of returning peers, and source addresses in turn */
const identities = []
let nextHost = 0
/** the current phase of churn ends: its peers leave */
let stopping = false
/** whether every peer unregisters as it leaves (the warm-up), or half */
let alwaysUnregister = false

/** latencies (ms) of the requests answered in the current sample */
let latencies = []
const counts = { joined: 0, left: 0, unregistered: 0, requests: 0, failed: 0 }
let firstFailure

async function identity () {
  if (identities.length < RETURNING || Math.random() < 0.5) {
    const privateKey = await generateKeyPair('Ed25519')

    if (identities.length < RETURNING) {
      identities.push(privateKey)
    }

    return privateKey
  }

  return identities[Math.floor(Math.random() * identities.length)]
}

function request (message) {
  return Message.encode(message)
}

/**
 * One request on a new stream, or on `held` when given
 */
async function exchange (connection, bytes, held) {
  const started = performance.now()
  let messages = held

  if (messages == null) {
    const stream = await connection.newStream(PROTOCOL)
    messages = lpStream(stream, { maxDataLength: 1024 * 1024 })
  }

  await messages.write(bytes)
  const response = Message.decode((await messages.read()).subarray())

  if (held == null) {
    await messages.unwrap().close()
  }

  latencies.push(performance.now() - started)
  counts.requests++
  return response
}

/**
 * A peer's life: join, register, poll, leave
 */
async function peer (point) {
  const privateKey = await identity()
  const host = clientHost(nextHost++ % 2000)
  const node = await loadClientNode(privateKey, host)
  const leaveAt = Date.now() + between(LIFETIME_RANGE)
  const ns = `soak-${Math.floor(Math.random() * NAMESPACES)}`
  let held

  try {
    const connection = await node.dial(point)
    counts.joined++
    const record = await sealPeerRecord(privateKey, peerIdFromPrivateKey(privateKey), [multiaddr(`/ip4/${host}/tcp/4001`)])
    const ttl = BigInt(Math.round(between(TTL_RANGE)))
    const registered = await exchange(connection, request({ type: Message.MessageType.REGISTER, register: { ns, signedPeerRecord: record, ttl } }))

    if (registered.registerResponse?.status !== Message.ResponseStatus.OK) {
      throw new Error(`REGISTER: ${registered.registerResponse?.statusText}`)
    }

    // half the peers poll on one stream kept open
    if (Math.random() < 0.5) {
      held = lpStream(await connection.newStream(PROTOCOL), { maxDataLength: 1024 * 1024 })
    }

    let cookie

    while (!stopping && Date.now() < leaveAt) {
      await sleep(between(POLL_RANGE))
      const found = await exchange(connection, request({ type: Message.MessageType.DISCOVER, discover: { ns, limit: 100n, cookie } }), held)

      if (found.discoverResponse?.status !== Message.ResponseStatus.OK) {
        throw new Error(`DISCOVER: ${found.discoverResponse?.statusText}`)
      }

      cookie = found.discoverResponse.cookie
    }

    await held?.unwrap().close()

    if (alwaysUnregister || Math.random() < 0.5) {
      // UNREGISTER has no answer: written, then the stream closes
      const stream = await connection.newStream(PROTOCOL)
      await lpStream(stream).write(request({ type: Message.MessageType.UNREGISTER, unregister: { ns } }))
      await stream.close()
      counts.unregistered++
    }
  } catch (err) {
    counts.failed++
    firstFailure ??= err.message
  } finally {
    await node.stop()
    counts.left++
  }
}

/**
 * Keeps PEERS peers alive until told to stop
 */
async function churn (point) {
  const running = new Set()

  while (!stopping) {
    while (running.size < PEERS && !stopping) {
      const life = peer(point).finally(() => running.delete(life))
      running.add(life)
      // joins spread out: a burst of hundreds of handshakes is another test
      await sleep(20)
    }

    await Promise.race([...running, sleep(100)])
  }

  await Promise.all(running)
}

async function sample (point, started) {
  const probe = await point.memory()
  const taken = latencies.sort((a, b) => a - b)
  latencies = []

  return {
    second: Math.round((performance.now() - started) / 1000),
    heapUsed: probe.memory.heapUsed,
    external: probe.memory.external,
    rss: rssBytes(point.pid),
    ...residentBy(point.pid),
    handles: Object.values(probe.resources).reduce((sum, count) => sum + count, 0),
    sockets: probe.resources.TCPSocketWrap ?? 0,
    timers: probe.resources.Timeout ?? 0,
    cpuMs: Math.round(cpuTime(point.pid)),
    requests: taken.length,
    p50: round(quantile(taken, 0.5)),
    p99: round(quantile(taken, 0.99))
  }
}

/**
 * The point's resident memory by kind, bytes: V8's heap pages (256 KiB
 * mappings), malloc's main arena (`[heap]`), and the rest
 */
function residentBy (pid) {
  const out = { rssV8: 0, rssMalloc: 0, rssOther: 0 }
  let kind = 'rssOther'

  for (const line of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const mapping = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$/.exec(line)

    if (mapping != null) {
      const size = parseInt(mapping[2], 16) - parseInt(mapping[1], 16)
      kind = mapping[3] === '[heap]' ? 'rssMalloc' : mapping[3] === '' && size === 256 * 1024 ? 'rssV8' : 'rssOther'
      continue
    }

    const rss = /^Rss:\s+(\d+) kB/.exec(line)

    if (rss != null) {
      out[kind] += Number(rss[1]) * 1024
    }
  }

  return out
}

/**
 * Least-squares slope of `key` against time, per minute
 */
function slopePerMinute (samples, key) {
  const n = samples.length
  const mx = samples.reduce((sum, s) => sum + s.second, 0) / n
  const my = samples.reduce((sum, s) => sum + s[key], 0) / n
  const sxy = samples.reduce((sum, s) => sum + (s.second - mx) * (s[key] - my), 0)
  const sxx = samples.reduce((sum, s) => sum + (s.second - mx) ** 2, 0)
  return sxx === 0 ? 0 : sxy / sxx * 60
}

function mean (samples, key) {
  return samples.reduce((sum, s) => sum + s[key], 0) / Math.max(1, samples.length)
}

async function main () {
  const point = await startCommand(['--min-ttl', String(MIN_TTL)])
  const address = multiaddr(point.info.multiaddrs[0])
  const started = performance.now()
  const samples = []

  try {
    log(`soak: warming up for ${WARMUP} s`)
    alwaysUnregister = true
    const warming = churn(address)
    await sleep(WARMUP * 1000)
    stopping = true
    await warming
    stopping = false
    alwaysUnregister = false
    latencies = []
    await sleep(1000)

    const before = await sample(point, started)
    log(`soak: ${PEERS} peers at a time for ${SECONDS} s; the point holds ${round(before.heapUsed / 2 ** 20)} MB of heap, ${before.handles} handles`)
    const churnStarted = performance.now()
    const churning = churn(address)

    while (performance.now() - churnStarted < SECONDS * 1000) {
      await sleep(SAMPLE * 1000)
      const s = await sample(point, started)
      samples.push(s)
      log(`soak ${s.second} s: heap ${round(s.heapUsed / 2 ** 20)} MB (external ${round(s.external / 2 ** 20)} MB), RSS ${round(s.rss / 2 ** 20)} MB (V8 pages ${round(s.rssV8 / 2 ** 20)}, malloc ${round(s.rssMalloc / 2 ** 20)}, other ${round(s.rssOther / 2 ** 20)}), ${s.handles} handles (${s.sockets} sockets), ${s.requests} requests p50 ${s.p50} ms p99 ${s.p99} ms; ${counts.joined} joined, ${counts.left} left, ${counts.failed} failed`)
    }

    stopping = true
    await churning
    // the longest TTL, then a sweep to reclaim the last of them
    log('soak: every peer has left; waiting for their registrations to lapse and be reclaimed')
    await sleep(TTL_RANGE[1] * 1000 + SWEEP_MS + 2000)
    const after = await sample(point, started)

    const steady = samples
    const third = Math.max(1, Math.floor(steady.length / 3))
    const result = {
      date: new Date().toISOString(),
      machine: machine(),
      parameters: { seconds: SECONDS, peers: PEERS, sample: SAMPLE, warmup: WARMUP, ttl: TTL_RANGE, lifetimeMs: LIFETIME_RANGE, pollMs: POLL_RANGE, namespaces: NAMESPACES },
      counts: { ...counts, firstFailure },
      before,
      after,
      churn: {
        heapMBPerMinute: round(slopePerMinute(steady, 'heapUsed') / 2 ** 20, 3),
        rssMBPerMinute: round(slopePerMinute(steady, 'rss') / 2 ** 20, 3),
        rssV8MBPerMinute: round(slopePerMinute(steady, 'rssV8') / 2 ** 20, 3),
        rssMallocMBPerMinute: round(slopePerMinute(steady, 'rssMalloc') / 2 ** 20, 3),
        rssOtherMBPerMinute: round(slopePerMinute(steady, 'rssOther') / 2 ** 20, 3),
        externalMBPerMinute: round(slopePerMinute(steady, 'external') / 2 ** 20, 3),
        handlesPerMinute: round(slopePerMinute(steady, 'handles'), 2),
        p99PerMinute: round(slopePerMinute(steady, 'p99'), 3),
        firstThird: { heapMB: round(mean(steady.slice(0, third), 'heapUsed') / 2 ** 20), rssMB: round(mean(steady.slice(0, third), 'rss') / 2 ** 20), handles: round(mean(steady.slice(0, third), 'handles')), p99: round(mean(steady.slice(0, third), 'p99')) },
        lastThird: { heapMB: round(mean(steady.slice(-third), 'heapUsed') / 2 ** 20), rssMB: round(mean(steady.slice(-third), 'rss') / 2 ** 20), handles: round(mean(steady.slice(-third), 'handles')), p99: round(mean(steady.slice(-third), 'p99')) }
      },
      left: {
        heapBytes: after.heapUsed - before.heapUsed,
        handles: after.handles - before.handles
      },
      samples
    }

    log(`soak: over the churn, heap ${result.churn.heapMBPerMinute} MB/min, RSS ${result.churn.rssMBPerMinute} MB/min, handles ${result.churn.handlesPerMinute}/min, p99 ${result.churn.p99PerMinute} ms/min; after it, ${round(result.left.heapBytes / 1024)} KB of heap and ${result.left.handles} handles more than before`)

    if (process.env.SOAK_RESULTS != null) {
      await writeFile(process.env.SOAK_RESULTS, `${JSON.stringify(result, null, 2)}\n`)
    }

    process.stdout.write(`${JSON.stringify(result)}\n`)

    if (CHECK) {
      const problems = []

      if (counts.joined === 0 || counts.requests === 0) {
        problems.push('no peer got through')
      }

      if (counts.failed > 0) {
        problems.push(`${counts.failed} peers failed: ${firstFailure}`)
      }

      if (result.left.heapBytes > HEAP_MARGIN_BYTES) {
        problems.push(`the heap kept ${round(result.left.heapBytes / 2 ** 20)} MB after every peer left and every registration lapsed`)
      }

      if (result.left.handles > HANDLE_MARGIN) {
        problems.push(`${result.left.handles} more handles than before the churn: ${JSON.stringify(after)}`)
      }

      if (problems.length > 0) {
        process.stderr.write(`soak: FAILED\n${problems.map(problem => `- ${problem}`).join('\n')}\n`)
        process.exitCode = 1
      } else {
        log('soak: passed, nothing left behind')
      }
    }
  } finally {
    stopping = true
    await point.stop()
  }
}

main().catch(err => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})

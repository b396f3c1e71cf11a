#!/usr/bin/env node
/**
 * REGISTER and DISCOVER throughput of one rendezvous point with its in-memory
 * store against two points sharing one Redis, all over TCP on 127.0.0.1.
 *
 * Run it with `npm run bench:redis` (installs redis-server if missing, builds,
 * runs this).
 *
 * The points are the built `rendezvous-server` command, each in its own
 * process; redis-server is started on a free loopback port with no
 * persistence; K concurrent clients (js-libp2p v3 nodes, in this process) each
 * keep one rendezvous stream open to one point (with two points, half the
 * clients use each) and send requests one after the other on it, paced under
 * the point's per-peer rate limit (100 requests/s). Each measurement runs for
 * BENCH_SECONDS after a warm-up, RUNS times; the median run is reported.
 *
 * Results go to bench/redis-fleet.json and a table is printed.
 *
 * Environment: BENCH_CLIENTS (K, default 64), BENCH_SECONDS (default 5),
 * BENCH_RUNS (default 3), BENCH_NAMESPACES (default 5), REDIS_SERVER.
 */

import { spawn, execFileSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { pbStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { PROTOCOL } from '../dist/src/constants.js'
import { Message } from '../dist/src/pb/rendezvous.js'
import { log, machine, medianRun, positive, quantile, round, signedPeerRecord, table, tcpNode } from './lib.mjs'

const COMMAND = fileURLToPath(new URL('../packages/server/dist/src/bin.js', import.meta.url))
const RESULTS = fileURLToPath(new URL('./redis-fleet.json', import.meta.url))
const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'

const CLIENTS = positive('BENCH_CLIENTS', 64)
const SECONDS = positive('BENCH_SECONDS', 5)
const RUNS = positive('BENCH_RUNS', 3)
const NAMESPACES = positive('BENCH_NAMESPACES', 5)
const WARMUP_MS = 1000
/**
 * Requests per second one client sends at most: under the point's default
 * per-peer limit of 100/s, so no request is refused for rate
 */
const CLIENT_RATE = 90

async function freePort () {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => { resolve(port) })
    })
  })
}

async function startRedis () {
  const port = await freePort()
  const child = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--logfile', ''], { stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise(resolve => child.once('exit', resolve))

  await new Promise((resolve, reject) => {
    child.once('error', reject)
    createInterface({ input: child.stdout }).on('line', line => {
      if (line.includes('Ready to accept connections')) {
        resolve()
      }
    })
    exited.then(code => { reject(new Error(`redis-server exited with ${code}`)) })
  })

  return {
    url: `redis://127.0.0.1:${port}`,
    stop: async () => {
      child.kill('SIGKILL')
      await exited
    }
  }
}

async function startPoint (args) {
  const child = spawn(process.execPath, [COMMAND, '--listen', '/ip4/127.0.0.1/tcp/0', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const stderr = []
  const exited = new Promise(resolve => child.once('exit', resolve))
  createInterface({ input: child.stderr }).on('line', line => stderr.push(line))

  const address = await new Promise((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', line => { resolve(multiaddr(line)) })
    exited.then(code => { reject(new Error(`point exited with ${code}: ${stderr.join('\n')}`)) })
  })

  return {
    address,
    stop: async () => {
      child.kill('SIGTERM')
      await exited
    }
  }
}

/**
 * A client node with one rendezvous stream open to a point
 *
 * @param {import('@multiformats/multiaddr').Multiaddr} point - the point's address
 */
async function startClient (point) {
  const privateKey = await generateKeyPair('Ed25519')
  const node = await tcpNode({
    privateKey,
    connectionManager: { inboundConnectionThreshold: 10_000 }
  })
  const record = await signedPeerRecord(privateKey, node.getMultiaddrs())
  const stream = await node.dialProtocol(point, PROTOCOL)
  const messages = pbStream(stream, { maxDataLength: 4 * 1024 * 1024 }).pb(Message)

  return {
    record,
    request: async (message) => {
      await messages.write(message)
      return messages.read()
    },
    stop: async () => {
      await stream.close().catch(() => {})
      await node.stop()
    }
  }
}

function registerRequest (client, i) {
  return {
    type: Message.MessageType.REGISTER,
    register: { ns: `bench-${i % NAMESPACES}`, ttl: 3600n, signedPeerRecord: client.record }
  }
}

function discoverRequest (client, i) {
  return { type: Message.MessageType.DISCOVER, discover: { ns: `bench-${i % NAMESPACES}`, limit: 100n } }
}

function statusOf (response) {
  return response.registerResponse?.status ?? response.discoverResponse?.status ?? 'NONE'
}

/**
 * Every client sends requests back to back, paced at CLIENT_RATE; resolves
 * with the OK count, the other statuses and the latencies of the OK requests
 *
 * @param {Array<{ request(message: object): Promise<object> }>} clients - the clients
 * @param {(client: object, i: number) => object} make - makes the i-th request of a client
 * @param {number} ms - how long to run
 */
async function drive (clients, make, ms) {
  const deadline = performance.now() + ms
  const interval = 1000 / CLIENT_RATE
  const latencies = []
  const refused = {}
  let ok = 0

  await Promise.all(clients.map(async (client, c) => {
    let next = performance.now() + Math.random() * interval

    for (let i = c; performance.now() < deadline; i++) {
      const wait = next - performance.now()

      if (wait > 0) {
        await new Promise(resolve => setTimeout(resolve, wait))
      }

      next = Math.max(next + interval, performance.now())

      if (performance.now() >= deadline) {
        break
      }

      const started = performance.now()
      const status = statusOf(await client.request(make(client, i)))

      if (status === Message.ResponseStatus.OK) {
        ok++
        latencies.push(performance.now() - started)
      } else {
        refused[status] = (refused[status] ?? 0) + 1
      }
    }
  }))

  latencies.sort((a, b) => a - b)

  return {
    opsPerSecond: Math.round(ok / (ms / 1000)),
    ok,
    refused,
    p50: round(quantile(latencies, 0.5)),
    p99: round(quantile(latencies, 0.99))
  }
}

async function measure (name, pointArgs) {
  const points = []
  const clients = []

  try {
    for (const args of pointArgs) {
      points.push(await startPoint(args))
    }

    log(`${name}: ${points.length} point(s), ${CLIENTS} clients`)

    for (let i = 0; i < CLIENTS; i += 16) {
      clients.push(...await Promise.all(Array.from({ length: Math.min(16, CLIENTS - i) }, async (_, j) => startClient(points[(i + j) % points.length].address))))
    }

    // every client holds NAMESPACES registrations before anything is measured
    await drive(clients, registerRequest, Math.max(WARMUP_MS, Math.ceil(NAMESPACES / CLIENT_RATE * 1000) + 500))
    const results = {}

    for (const [op, make] of [['register', registerRequest], ['discover', discoverRequest]]) {
      await drive(clients, make, WARMUP_MS)
      const runs = []

      for (let run = 0; run < RUNS; run++) {
        runs.push(await drive(clients, make, SECONDS * 1000))
        log(`${name} ${op} run ${run + 1}: ${runs.at(-1).opsPerSecond} ops/s, p50 ${runs.at(-1).p50} ms, p99 ${runs.at(-1).p99} ms${Object.keys(runs.at(-1).refused).length > 0 ? `, refused ${JSON.stringify(runs.at(-1).refused)}` : ''}`)
      }

      results[op] = { median: medianRun(runs, 'opsPerSecond'), runs }
    }

    return results
  } finally {
    await Promise.all(clients.map(async client => client.stop()))
    await Promise.all(points.map(async point => point.stop()))
  }
}

function redisVersion () {
  try {
    return execFileSync(REDIS_SERVER, ['--version'], { encoding: 'utf8' }).match(/v=(\S+)/)?.[1] ?? 'unknown'
  } catch {
    return 'unknown'
  }
}

function resultTable (results) {
  const rows = []

  for (const [setup, ops] of Object.entries(results)) {
    for (const [op, { median, runs }] of Object.entries(ops)) {
      rows.push([setup, op, median.opsPerSecond, runs.map(run => run.opsPerSecond).join(' / '), median.p50, median.p99])
    }
  }

  return table(['setup', 'op', 'ops/s (median)', 'runs', 'p50 ms', 'p99 ms'], rows)
}

async function main () {
  const redis = await startRedis()
  const results = {}

  try {
    results['1 point, memory store'] = await measure('1 point, memory store', [['--memory']])
    results['2 points, shared Redis'] = await measure('2 points, shared Redis', [['--memory', '--redis', redis.url], ['--memory', '--redis', redis.url]])
  } finally {
    await redis.stop()
  }

  const report = {
    date: new Date().toISOString(),
    machine: { ...machine(), redis: redisVersion() },
    command: 'npm run bench:redis',
    parameters: { clients: CLIENTS, seconds: SECONDS, runs: RUNS, namespaces: NAMESPACES, clientRate: CLIENT_RATE, discoverLimit: 100, transport: 'tcp 127.0.0.1, noise, yamux' },
    results
  }

  await writeFile(RESULTS, `${JSON.stringify(report, null, 2)}\n`)
  process.stdout.write(`\n${resultTable(results)}\n\nceiling set by pacing: ${CLIENTS * CLIENT_RATE} requests/s; results in ${RESULTS}\n`)
}

main().catch(err => {
  process.stderr.write(`${err.stack ?? err.message}\n`)
  process.exit(1)
})

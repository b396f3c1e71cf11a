/**
 * What the benchmark scripts share: settings from the environment, progress
 * lines, statistics, CPU time of a process, child processes that speak JSON
 * lines, and markdown tables.
 */

import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import os from 'node:os'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { tcp } from '@libp2p/tcp'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { createLibp2p } from 'libp2p'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'

/**
 * The echo floor's request/response protocol (bench/echo.mjs): each request's
 * first four bytes (big-endian) say how long its response is
 */
export const ECHO_PROTOCOL = '/rendezvous-bench/echo/1.0.0'

/**
 * Serves the echo protocol on a stream: reads length-prefixed requests and
 * answers each with as many bytes as its first four ask for, until the remote
 * closes its end. It frames requests as the rendezvous point does (a
 * `LengthPrefixedDecoder` over the stream's chunks, the length read from
 * contiguous bytes), so it is the least work a stream of requests can cost a
 * point on this stack.
 *
 * @param {import('@libp2p/interface').Stream} stream - the stream
 */
export async function handleEcho (stream) {
  const decoder = new LengthPrefixedDecoder({ maxDataLength: 8192, maxBufferSize: Infinity, lengthDecoder: decodeEchoLength })

  try {
    for await (const chunk of stream) {
      for (const frame of decoder.decode(chunk)) {
        const request = frame.subarray()
        const length = new DataView(request.buffer, request.byteOffset, request.byteLength).getUint32(0)
        let response = echoResponses.get(length)

        if (response == null) {
          response = new Uint8ArrayList(varint.encode(length), new Uint8Array(length).fill(1))
          echoResponses.set(length, response)
        }

        if (!stream.send(response)) {
          await stream.onDrain()
        }
      }
    }

    await stream.close()
  } catch (err) {
    stream.abort(err)
  }
}

/** the echo protocol's responses, length-prefixed, one per length asked for */
const echoResponses = new Map()

/** "wait for more bytes", for `LengthPrefixedDecoder`: one instance serves all */
const MORE_BYTES = new RangeError('length prefix is incomplete')

/**
 * The length of the frame at the start of `data`, read from contiguous bytes
 *
 * @param {Uint8Array | Uint8ArrayList} data - what is buffered
 */
function decodeEchoLength (data) {
  const prefix = data.subarray(0, Math.min(data.byteLength, 10))
  const end = prefix.findIndex(byte => byte < 0x80)

  if (end === -1) {
    throw MORE_BYTES
  }

  return varint.decode(prefix)
}

/**
 * An echo request as long as `requestLength` asking for `responseLength`
 *
 * @param {number} requestLength - bytes
 * @param {number} responseLength - bytes
 */
export function echoRequest (requestLength, responseLength) {
  const bytes = new Uint8Array(requestLength)
  new DataView(bytes.buffer).setUint32(0, responseLength)
  return bytes
}

/**
 * The source address of load client number `n`: 127.0.<x>.<y>, 250 to an <x>
 *
 * @param {number} n - the client's number, from 0
 */
export function clientHost (n) {
  return `127.0.${1 + Math.floor(n / 250)}.${1 + (n % 250)}`
}

/**
 * A libp2p v3 node over TCP with noise and yamux, listening on a free port of
 * 127.0.0.1 unless `options` say otherwise
 *
 * @param {import('libp2p').Libp2pOptions} [options] - anything else
 */
export async function tcpNode (options = {}) {
  return createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...options
  })
}

/**
 * A load client's node: it dials from `host` and listens nowhere, with
 * identify; js-libp2p's connection monitor is off, since its pings are a cost
 * measured on their own (the points' ping workload)
 *
 * @param {import('@libp2p/interface').PrivateKey} privateKey - the client's key
 * @param {string} host - the loopback address it dials from
 */
export async function loadClientNode (privateKey, host) {
  return createLibp2p({
    privateKey,
    addresses: { listen: [] },
    transports: [tcp({ dialOpts: { localAddress: host } })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionMonitor: { enabled: false },
    services: { identify: identify() }
  })
}

/**
 * The marshalled signed peer record of a key's peer
 *
 * @param {import('@libp2p/interface').PrivateKey} privateKey - the peer's key
 * @param {import('@multiformats/multiaddr').Multiaddr[]} multiaddrs - its addresses
 */
export async function signedPeerRecord (privateKey, multiaddrs) {
  const record = new PeerRecord({ peerId: peerIdFromPrivateKey(privateKey), multiaddrs })
  return (await RecordEnvelope.seal(record, privateKey)).marshal()
}

/**
 * Writes `message` to stdout as one JSON line, for a parent's startJsonChild()
 *
 * @param {object} message - what to send
 */
export function answer (message) {
  process.stdout.write(`${JSON.stringify(message)}\n`)
}

/**
 * Stops `node` and exits on SIGTERM or SIGINT; returns that shutdown, for a
 * script to run when its parent closes stdin
 *
 * @param {import('@libp2p/interface').Libp2p} node - the script's node
 */
export function shutdownOnSignals (node) {
  const shutdown = async () => {
    await node.stop()
    process.exit(0)
  }

  process.once('SIGTERM', () => { void shutdown() })
  process.once('SIGINT', () => { void shutdown() })

  return shutdown
}

/**
 * Answers the JSON commands a parent writes to stdin, one a line, with what
 * `run` resolves or the error it throws, until stdin ends
 *
 * @param {(command: any) => Promise<unknown>} run - carries out one command
 */
export async function serveCommands (run) {
  for await (const line of createInterface({ input: process.stdin })) {
    const command = JSON.parse(line)

    try {
      answer({ id: command.id, result: await run(command) })
    } catch (err) {
      answer({ id: command.id, error: err.message })
    }
  }
}

/**
 * A positive integer from the environment variable `name`, or `fallback`
 *
 * @param {string} name - the variable
 * @param {number} fallback - its default
 */
export function positive (name, fallback) {
  return integerAtLeast(1, name, fallback)
}

/**
 * A non-negative integer from the environment variable `name`, or `fallback`
 *
 * @param {string} name - the variable
 * @param {number} fallback - its default
 */
export function nonNegative (name, fallback) {
  return integerAtLeast(0, name, fallback)
}

/**
 * @param {number} min - the least value taken
 * @param {string} name - the variable
 * @param {number} fallback - its default
 */
function integerAtLeast (min, name, fallback) {
  const value = process.env[name] == null ? fallback : Number(process.env[name])

  if (!Number.isSafeInteger(value) || value < min) {
    throw new Error(`${name} must be an integer of at least ${min}`)
  }

  return value
}

/**
 * A comma-separated list of positive integers from the environment
 *
 * @param {string} name - the variable
 * @param {number[]} fallback - its default
 */
export function positiveList (name, fallback) {
  if (process.env[name] == null) {
    return fallback
  }

  return process.env[name].split(',').map(item => {
    const value = Number(item)

    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new Error(`${name} must be a comma-separated list of positive integers`)
    }

    return value
  })
}

/**
 * Writes one progress line to stderr
 *
 * @param {string} message - the line
 */
export function log (message) {
  process.stderr.write(`[bench] ${message}\n`)
}

export function round (value, digits = 2) {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

/**
 * The value at quantile `q` (0 to 1) of sorted numbers
 *
 * @param {number[]} sorted - ascending
 * @param {number} q - the quantile
 */
export function quantile (sorted, q) {
  if (sorted.length === 0) {
    return 0
  }

  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]
}

/**
 * The median of numbers
 *
 * @param {number[]} values - the numbers
 */
export function median (values) {
  return quantile([...values].sort((a, b) => a - b), 0.5)
}

/**
 * The run whose `key` is the median of all runs'
 *
 * @template T
 * @param {T[]} runs - the runs
 * @param {keyof T} key - what to order them by
 * @returns {T}
 */
export function medianRun (runs, key) {
  return [...runs].sort((a, b) => a[key] - b[key])[Math.floor(runs.length / 2)]
}

const TICKS_PER_SECOND = 100

/**
 * CPU time a process has used so far, in ms, all its threads (a Go runtime's,
 * a tokio pool's, V8's garbage collector's): the sum of
 * /proc/<pid>/task/<tid>/schedstat (ns) where the kernel has it, else the
 * user and system ticks of /proc/<pid>/stat
 *
 * @param {number} pid - the process
 */
export function cpuTime (pid) {
  try {
    let ns = 0

    for (const task of readdirSync(`/proc/${pid}/task`)) {
      try {
        ns += Number(readFileSync(`/proc/${pid}/task/${task}/schedstat`, 'utf8').split(' ')[0])
      } catch (err) {
        // a thread that ended meanwhile
        if (err.code !== 'ENOENT' && err.code !== 'ESRCH') {
          throw err
        }
      }
    }

    return ns / 1e6
  } catch {
    // the command may contain spaces and parentheses: fields count from the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND
  }
}

/**
 * Waits until a process stays under 2 % of a core for `ms`, at most 10 s:
 * the end of the work a phase started
 *
 * @param {number} pid - the process
 * @param {number} [ms] - how long it must stay quiet
 */
export async function quiet (pid, ms = 500) {
  const deadline = performance.now() + 10_000

  while (performance.now() < deadline) {
    const before = cpuTime(pid)
    await new Promise(resolve => setTimeout(resolve, ms))

    if (cpuTime(pid) - before < ms * 0.02) {
      return
    }
  }
}

/**
 * How many read and write system calls a process has made so far
 * (/proc/<pid>/io), all its threads
 *
 * @param {number} pid - the process
 */
export function syscalls (pid) {
  const io = readFileSync(`/proc/${pid}/io`, 'utf8')
  return { reads: Number(/^syscr: (\d+)/m.exec(io)[1]), writes: Number(/^syscw: (\d+)/m.exec(io)[1]) }
}

/**
 * A process's resident memory, bytes
 *
 * @param {number} pid - the process
 */
export function rssBytes (pid) {
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024
}

/**
 * A child process that prints one JSON line when ready, then answers JSON
 * commands written to its stdin with one JSON line each, in order:
 * `{ id, result }` or `{ id, error }`
 *
 * @param {string[]} args - its arguments
 * @param {object} [options]
 * @param {string} [options.command] - the executable (default: this Node.js)
 * @param {string} [options.cwd] - the working directory
 * @param {Record<string, string>} [options.env] - extra environment
 * @param {boolean} [options.ipc] - open an IPC channel, for bench/probe.mjs
 * @param {(line: string) => object} [options.ready] - reads the first line
 * of stdout into the ready message, for a child that does not print JSON;
 * the lines after it are then ignored
 */
export async function startJsonChild (args, options = {}) {
  const child = spawn(options.command ?? process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe', ...(options.ipc === true ? ['ipc'] : [])]
  })
  const stderr = []
  const waiting = new Map()
  let nextId = 0
  let onReady
  let onExit
  let isReady = false
  const exited = new Promise(resolve => child.once('exit', resolve))

  createInterface({ input: child.stderr }).on('line', line => {
    stderr.push(line)

    // e.g. with DEBUG=rendezvous-server:memory-release, to watch a point
    if (process.env.BENCH_CHILD_STDERR != null) {
      process.stderr.write(`[child ${child.pid}] ${line}\n`)
    }

    if (stderr.length > 50) {
      stderr.shift()
    }
  })

  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    onExit = reject
  })

  const settle = message => {
    const pending = waiting.get(message.id)
    waiting.delete(message.id)

    if (message.error != null) {
      pending?.reject(new Error(message.error))
    } else {
      pending?.resolve(message.result ?? message)
    }
  }

  createInterface({ input: child.stdout }).on('line', line => {
    if (!isReady && options.ready != null) {
      isReady = true
      onReady(options.ready(line))
      return
    }

    if (options.ready != null) {
      return
    }

    const message = JSON.parse(line)

    if (message.ready === true) {
      isReady = true
      onReady(message)
      return
    }

    settle(message)
  })

  child.on('message', settle)

  void exited.then(code => {
    const err = new Error(`${args.join(' ')} exited with ${code}: ${stderr.join('\n')}`)
    onExit(err)

    for (const pending of waiting.values()) {
      pending.reject(err)
    }

    waiting.clear()
  })

  const info = await ready
  const ask = async (write) => {
    const id = nextId++
    const answer = new Promise((resolve, reject) => { waiting.set(id, { resolve, reject }) })
    write(id)
    return answer
  }

  return {
    info,
    pid: child.pid,
    /**
     * Sends a command and resolves with its result
     *
     * @param {Record<string, unknown>} command - the command
     */
    async send (command) {
      return ask(id => child.stdin.write(`${JSON.stringify({ ...command, id })}\n`))
    },
    /**
     * The heap of a point that runs bench/probe.mjs: `process.memoryUsage()`
     * after full garbage collections
     */
    async memory () {
      return ask(id => child.send({ cmd: 'memory', id }))
    },
    async stop () {
      if (child.exitCode == null) {
        child.stdin.end()
        child.kill('SIGTERM')
      }

      await exited
    }
  }
}

/**
 * The `rendezvous-server` command, built, on a free port of 127.0.0.1 with
 * `--memory`, its heap readable through bench/probe.mjs
 *
 * @param {string[]} [args] - more of its flags
 * @param {string[]} [nodeArgs] - more flags for Node.js, e.g. `--cpu-prof`
 */
export async function startCommand (args = [], nodeArgs = []) {
  const here = (file) => fileURLToPath(new URL(file, import.meta.url))

  return startJsonChild([...nodeArgs, '--expose-gc', '--import', here('./probe.mjs'), here('../packages/server/dist/src/bin.js'), '--memory', '--listen', '/ip4/127.0.0.1/tcp/0', ...args], {
    ipc: true,
    // it prints its addresses, one a line, the first one on TCP
    ready: line => ({ ready: true, multiaddrs: [line] })
  })
}

/**
 * The machine the figures were measured on
 */
export function machine () {
  const cpus = os.cpus()

  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAverage: os.loadavg().map(load => round(load))
  }
}

/**
 * A markdown table with aligned columns
 *
 * @param {string[]} header - the column names
 * @param {Array<Array<string | number>>} rows - the cells
 */
export function table (header, rows) {
  const cells = [header, ...rows.map(row => row.map(String))]
  const widths = header.map((_, i) => Math.max(...cells.map(row => row[i].length)))
  const line = (row) => `| ${row.map((cell, i) => cell.padEnd(widths[i])).join(' | ')} |`

  return [line(cells[0]), `|${widths.map(width => '-'.repeat(width + 2)).join('|')}|`, ...cells.slice(1).map(line)].join('\n')
}

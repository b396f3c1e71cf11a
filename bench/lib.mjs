/**
 * What the benchmark scripts share: settings from the environment, progress
 * lines, statistics, CPU time of a process, child processes that speak JSON
 * lines, and markdown tables.
 */

import { spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { createInterface } from 'node:readline'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'

/**
 * The transport ceiling's request/response protocol, served by bench/point.mjs
 */
export const CEILING_PROTOCOL = '/rendezvous-bench/reqres/1.0.0'

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
 * A positive integer from the environment variable `name`, or `fallback`
 *
 * @param {string} name - the variable
 * @param {number} fallback - its default
 */
export function positive (name, fallback) {
  const value = process.env[name] == null ? fallback : Number(process.env[name])

  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive integer`)
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
 * CPU time a process has used so far, in ms: from /proc/<pid>/schedstat (ns)
 * where the kernel has it, else from the user and system ticks of
 * /proc/<pid>/stat
 *
 * @param {number} pid - the process
 */
export function cpuTime (pid) {
  try {
    return Number(readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ')[0]) / 1e6
  } catch {
    // the command may contain spaces and parentheses: fields count from the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND
  }
}

/**
 * A child process that prints one JSON line when ready, then answers JSON
 * commands written to its stdin with one JSON line each, in order:
 * `{ id, result }` or `{ id, error }`
 *
 * @param {string[]} args - node's arguments
 * @param {object} [options]
 * @param {string} [options.cwd] - the working directory
 * @param {Record<string, string>} [options.env] - extra environment
 */
export async function startJsonChild (args, options = {}) {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe']
  })
  const stderr = []
  const waiting = new Map()
  let nextId = 0
  let onReady
  let onExit
  const exited = new Promise(resolve => child.once('exit', resolve))

  createInterface({ input: child.stderr }).on('line', line => {
    stderr.push(line)

    if (stderr.length > 50) {
      stderr.shift()
    }
  })

  const ready = new Promise((resolve, reject) => {
    onReady = resolve
    onExit = reject
  })

  createInterface({ input: child.stdout }).on('line', line => {
    const message = JSON.parse(line)

    if (message.ready === true) {
      onReady(message)
      return
    }

    const pending = waiting.get(message.id)
    waiting.delete(message.id)

    if (message.error != null) {
      pending?.reject(new Error(message.error))
    } else {
      pending?.resolve(message.result)
    }
  })

  void exited.then(code => {
    const err = new Error(`${args.join(' ')} exited with ${code}: ${stderr.join('\n')}`)
    onExit(err)

    for (const pending of waiting.values()) {
      pending.reject(err)
    }

    waiting.clear()
  })

  const info = await ready

  return {
    info,
    pid: child.pid,
    /**
     * Sends a command and resolves with its result
     *
     * @param {Record<string, unknown>} command - the command
     */
    async send (command) {
      const id = nextId++
      const answer = new Promise((resolve, reject) => { waiting.set(id, { resolve, reject }) })
      child.stdin.write(`${JSON.stringify({ ...command, id })}\n`)
      return answer
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

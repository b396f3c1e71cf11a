#!/usr/bin/env node
/*
 * A load-generator process of bench/points.mjs: `count` js-libp2p v3 client
 * nodes (TCP, noise, yamux, identify), each with its own key and its own
 * source address, 127.0.<x>.<y> from its global number, so no point sees
 * more than one connection per address and no per-address threshold
 * applies. Several of these run at once, so the load is not bounded by one
 * process's core.
 *
 * Prints one JSON line when ready, `{"ready":true}`, then answers JSON
 * commands on stdin, one line each, `{"id","result"}` or `{"id","error"}`:
 *
 *   {"cmd":"connect","set","multiaddr","format","protocol","concurrency","from","to","discoverNs","discoverCount","ns","ttl","bytes"}
 *       dials the point from clients [from, to) of this process's `set`
 *       ('main' or 'warm', the clients that warm a point up),
 *       `concurrency` at a time, and sends one request on a new stream: a
 *       REGISTER of the client's own record (`format` 'standard' or 'legacy')
 *       in `discoverNs` for clients numbered below `discoverCount`, else in
 *       `ns`; or, for the echo protocol, `bytes` (base64) as the request.
 *       Connections stay open. Result: ok, failed, firstFailure, latencies
 *       (ms, sorted)
 *   {"cmd":"drive","workload","ms","inflight","perStream"}
 *       sends the workload's requests over the open connections of this
 *       process's workload clients, `inflight` at a time each, for
 *       `ms`: a new stream per request, or one stream per in-flight loop that
 *       carries request after request when `perStream` is 'many'. Result:
 *       ok, failed, firstFailure, latencies
 *   {"cmd":"streams","ns"}   opens a stream on every main client's open
 *       connection and sends one DISCOVER (limit 1) on it, and keeps it open:
 *       what a client that polls on one stream leaves at the point between
 *       polls. Result: ok, failed, firstFailure, latencies
 *   {"cmd":"close-streams"}   closes them
 *   {"cmd":"hangup","set"}   closes the connections of a set of clients
 *
 * Workloads: `{"kind":"register","record":"same"|"fresh","format","ns","ttl"}`,
 * `{"kind":"discover","ns","limit"}`, `{"kind":"echo","bytes"}` (base64),
 * `{"kind":"ping"}`: what js-libp2p's connection monitor sends every 10 s on
 * every connection, a stream of /ipfs/ping/1.0.0 with 32 bytes each way, or
 * only the protocol negotiation where the point does not serve it.
 * "fresh" sends each REGISTER with another of FRESH_RECORDS records signed
 * for the client in advance, so the point holds a different one each time.
 *
 * Environment: LOAD_FIRST (the global number of this process's first main
 * client), LOAD_COUNT (how many), LOAD_WARM_FIRST and LOAD_WARM (the same
 * for warm-up clients), LOAD_WORKLOAD_CLIENTS (how many main clients drive
 * workloads, and get fresh records).
 */

import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { byteStream, lpStream } from '@libp2p/utils'
import { multiaddr } from '@multiformats/multiaddr'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { PROTOCOL } from '../dist/src/constants.js'
import { Message } from '../dist/src/pb/rendezvous.js'
import { sealPeerRecord } from '../dist/src/signed-peer-record.js'
import { answer, clientHost, loadClientNode, positive, serveCommands } from './lib.mjs'

const FIRST = Number(process.env.LOAD_FIRST ?? 0)
const COUNT = positive('LOAD_COUNT', 100)
const WARM_FIRST = Number(process.env.LOAD_WARM_FIRST ?? FIRST + COUNT)
const WARM = Number(process.env.LOAD_WARM ?? 0)
const WORKLOAD_CLIENTS = Math.min(COUNT, Number(process.env.LOAD_WORKLOAD_CLIENTS ?? 8))
/** records signed in advance per workload client, for REGISTERs of fresh records */
const FRESH_RECORDS = 32
const MAX_RESPONSE = 4 * 1024 * 1024

/**
 * A client: its node, its records in both formats, and its connection to
 * the point under test
 *
 * @param {number} global - its number among all load processes' clients
 * @param {boolean} workload - whether it drives workloads
 */
async function startClient (global, workload) {
  const host = clientHost(global)
  const privateKey = await generateKeyPair('Ed25519')
  const peerId = peerIdFromPrivateKey(privateKey)
  const node = await loadClientNode(privateKey, host)
  const address = [multiaddr(`/ip4/${host}/tcp/4001`)]
  const seal = async (format, seqNumber) => sealPeerRecord(privateKey, peerId, address, { format, seqNumber })
  const records = { standard: await seal('standard'), legacy: await seal('legacy') }
  const fresh = { standard: [], legacy: [] }

  if (workload) {
    const base = BigInt(Date.now())

    for (let i = 0; i < FRESH_RECORDS; i++) {
      fresh.standard.push(await seal('standard', base + BigInt(i + 1)))
      fresh.legacy.push(await seal('legacy', base + BigInt(i + 1)))
    }
  }

  return { node, global, records, fresh, registerRequests: [], registerNext: 0, connection: undefined }
}

function registerRequest (ns, record, ttl) {
  return Message.encode({ type: Message.MessageType.REGISTER, register: { ns, signedPeerRecord: record, ttl: BigInt(ttl) } })
}

function discoverRequest (ns, limit) {
  return Message.encode({ type: Message.MessageType.DISCOVER, discover: { ns, limit: BigInt(limit) } })
}

/**
 * Why a response is not what the workload expects, or undefined
 *
 * @param {object} workload - what was asked
 * @param {Uint8Array} bytes - the response
 */
function problem (workload, bytes) {
  if (workload.kind === 'echo') {
    return bytes.byteLength === workload.responseLength ? undefined : `${bytes.byteLength} bytes instead of ${workload.responseLength}`
  }

  // the same bytes as a response already checked are right too: a point
  // answers each of a workload's REGISTERs alike, and decoding them all
  // would count this process's work against the point, in a CPU it shares
  if (workload.checked != null && uint8ArrayEquals(bytes, workload.checked)) {
    return undefined
  }

  const message = Message.decode(bytes)
  const response = workload.kind === 'register' ? message.registerResponse : message.discoverResponse

  if (response == null) {
    return `no ${workload.kind} response`
  }

  // proto3 encoders (canvas-js) leave out OK, the enum's zero
  if ((response.status ?? Message.ResponseStatus.OK) !== Message.ResponseStatus.OK) {
    return `status ${response.status}: ${response.statusText}`
  }

  if (workload.kind === 'discover' && response.registrations.length !== workload.expect) {
    return `${response.registrations.length} registrations instead of ${workload.expect}`
  }

  if (workload.kind === 'register') {
    workload.checked = bytes.slice()
  }
}

/**
 * The bytes of a client's next request of a workload
 */
function nextRequest (client, workload) {
  switch (workload.kind) {
    case 'echo':
      return workload.request
    case 'discover':
      return workload.request
    case 'register': {
      const requests = client.registerRequests
      client.registerNext = (client.registerNext + 1) % requests.length
      return requests[client.registerNext]
    }
    default:
      throw new Error(`unknown workload ${workload.kind}`)
  }
}

/**
 * A client's REGISTERs of a workload, encoded once before it starts, as the
 * echo floor's request is: its own record, or each of its fresh ones in turn
 */
function registerRequests (client, workload) {
  const records = workload.record === 'same' ? [client.records[workload.format]] : client.fresh[workload.format]
  return records.map(record => registerRequest(workload.ns, record, workload.ttl))
}

/**
 * A length-prefixed exchange on a stream: one request, one response
 */
async function exchange (messages, bytes) {
  await messages.write(bytes)
  return (await messages.read()).subarray()
}

const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_LENGTH = 32

/**
 * One ping as js-libp2p's connection monitor sends it: a point that does not
 * serve the protocol still costs the negotiation
 */
async function ping (connection) {
  let stream

  try {
    stream = await connection.newStream(PING_PROTOCOL)
  } catch (err) {
    if (err.name === 'UnsupportedProtocolError') {
      return
    }

    throw err
  }

  const bytes = byteStream(stream)
  await bytes.write(new Uint8Array(PING_LENGTH))
  await bytes.read({ bytes: PING_LENGTH })
  await stream.close()
}

async function oneShot (connection, protocol, bytes) {
  const stream = await connection.newStream(protocol)
  const messages = lpStream(stream, { maxDataLength: MAX_RESPONSE })
  const response = await exchange(messages, bytes)
  await stream.close()
  return response
}

function summary (latencies, failures) {
  latencies.sort((a, b) => a - b)
  return { ok: latencies.length, failed: failures.length, firstFailure: failures[0], latencies: latencies.map(latency => Math.round(latency * 1000) / 1000) }
}

const sets = { main: [], warm: [] }

async function connect (command) {
  const latencies = []
  const failures = []
  const target = multiaddr(command.multiaddr)
  const clients = sets[command.set]
  let next = command.from ?? 0
  const to = Math.min(command.to ?? clients.length, clients.length)

  await Promise.all(Array.from({ length: command.concurrency }, async () => {
    while (next < to) {
      const client = clients[next++]
      const started = performance.now()

      try {
        client.connection = await client.node.dial(target)
        const ns = client.global < command.discoverCount ? command.discoverNs : command.ns
        const request = command.protocol === PROTOCOL
          ? registerRequest(ns, client.records[command.format], command.ttl)
          : Buffer.from(command.bytes, 'base64')
        const response = await oneShot(client.connection, command.protocol, request)
        const wrong = command.protocol === PROTOCOL ? problem({ kind: 'register' }, response) : undefined

        if (wrong == null) {
          latencies.push(performance.now() - started)
        } else {
          failures.push(wrong)
        }
      } catch (err) {
        failures.push(err.message)
      }
    }
  }))

  return summary(latencies, failures)
}

async function drive (command) {
  const workload = { ...command.workload }
  const latencies = []
  const failures = []

  if (workload.kind === 'echo') {
    workload.request = Buffer.from(workload.bytes, 'base64')
    workload.responseLength = new DataView(workload.request.buffer, workload.request.byteOffset).getUint32(0)
  } else if (workload.kind === 'discover') {
    workload.request = discoverRequest(workload.ns, workload.limit)
  }

  const protocol = workload.protocol
  const deadline = performance.now() + command.ms
  const active = sets.main.slice(0, WORKLOAD_CLIENTS).filter(client => client.connection != null)

  if (workload.kind === 'register') {
    for (const client of active) {
      client.registerRequests = registerRequests(client, workload)
    }
  }

  await Promise.all(active.flatMap(client => Array.from({ length: command.inflight }, async () => {
    let messages
    let stream

    try {
      while (performance.now() < deadline) {
        if (workload.kind === 'ping') {
          const sent = performance.now()
          await ping(client.connection)
          latencies.push(performance.now() - sent)
          continue
        }

        const bytes = nextRequest(client, workload)
        const sent = performance.now()
        let response

        if (command.perStream === 'many') {
          if (messages == null) {
            stream = await client.connection.newStream(protocol)
            messages = lpStream(stream, { maxDataLength: MAX_RESPONSE })
          }

          response = await exchange(messages, bytes)
        } else {
          response = await oneShot(client.connection, protocol, bytes)
        }

        const wrong = problem(workload, response)

        if (wrong == null) {
          latencies.push(performance.now() - sent)
        } else {
          failures.push(wrong)
        }
      }

      await stream?.close()
    } catch (err) {
      failures.push(err.message)
      stream?.abort(err)
    }
  })))

  return summary(latencies, failures)
}

async function openStreams (command) {
  const latencies = []
  const failures = []
  const request = discoverRequest(command.ns, 1)

  await Promise.all(sets.main.filter(client => client.connection != null).map(async (client) => {
    const started = performance.now()

    try {
      const stream = await client.connection.newStream(PROTOCOL)
      const messages = lpStream(stream, { maxDataLength: MAX_RESPONSE })
      const wrong = problem({ kind: 'discover', expect: 1 }, await exchange(messages, request))

      if (wrong == null) {
        client.stream = stream
        latencies.push(performance.now() - started)
      } else {
        failures.push(wrong)
        stream.abort(new Error(wrong))
      }
    } catch (err) {
      failures.push(err.message)
    }
  }))

  return summary(latencies, failures)
}

async function closeStreams () {
  await Promise.all(sets.main.map(async (client) => {
    const stream = client.stream
    client.stream = undefined
    await stream?.close().catch(err => { stream.abort(err) })
  }))

  return null
}

async function hangup (command) {
  await Promise.all(sets[command.set].map(async (client) => {
    const connection = client.connection
    client.connection = undefined
    await connection?.close().catch(err => { connection.abort(err) })
  }))

  return null
}

async function run (command) {
  switch (command.cmd) {
    case 'connect':
      return connect(command)
    case 'drive':
      return drive(command)
    case 'streams':
      return openStreams(command)
    case 'close-streams':
      return closeStreams()
    case 'hangup':
      return hangup(command)
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`)
  }
}

async function shutdown () {
  await Promise.all([...sets.main, ...sets.warm].map(async ({ node }) => node.stop()))
  process.exit(0)
}

process.once('SIGTERM', () => { void shutdown() })

for (let i = 0; i < COUNT; i++) {
  sets.main.push(await startClient(FIRST + i, i < WORKLOAD_CLIENTS))
}

for (let i = 0; i < WARM; i++) {
  sets.warm.push(await startClient(WARM_FIRST + i, false))
}

answer({ ready: true, clients: sets.main.length, warm: sets.warm.length })

await serveCommands(run)

await shutdown()

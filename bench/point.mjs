#!/usr/bin/env node
/*
 * The rendezvous point of the expiry and pages sections of bench/run.mjs, in
 * its own process: a libp2p v3 node on TCP 127.0.0.1 (noise, yamux) running
 * `rendezvousServer()` with its in-memory store, with commands to fill the
 * store directly.
 *
 * Prints one JSON line when ready, `{"ready":true,"peerId","multiaddrs"}`,
 * then answers JSON commands on stdin, one line each, `{"id","result"}` or
 * `{"id","error"}`:
 *
 *   {"cmd":"preload","ns","file","ttl"}  registers the peers of a records
 *                                        file (JSON lines {peerId, record}
 *                                        with the record in base64) in ns,
 *                                        ttl in s, straight into the store
 *   {"cmd":"expiring","ns","count","in"} adds count registrations that all
 *                                        lapse `in` ms from now (copies of
 *                                        one record, random peer-id-like
 *                                        strings)
 *   {"cmd":"count"}                      registrations held
 *   {"cmd":"gc"}                         garbage collector pauses and event
 *                                        loop delay since the last gc command
 *
 * Options come from the environment: BENCH_MAX_REQUESTS_PER_PEER (the
 * rate limit, raised by the harness) and BENCH_EXPIRY_INTERVAL (ms).
 */

import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { PerformanceObserver, monitorEventLoopDelay } from 'node:perf_hooks'
import { rendezvousServer } from '../dist/src/index.js'
import { MemoryRegistrationStore } from '../dist/src/server/memory-store.js'
import { answer, positive, serveCommands, shutdownOnSignals, tcpNode } from './lib.mjs'

const store = new MemoryRegistrationStore({ expiryInterval: positive('BENCH_EXPIRY_INTERVAL', 10_000) })
const node = await tcpNode({
  services: {
    rendezvous: rendezvousServer({
      store,
      maxRequestsPerPeer: positive('BENCH_MAX_REQUESTS_PER_PEER', 100)
    })
  }
})

/** garbage collector pauses since the last `gc` command, in ms */
let gcPauses = []
/** event loop delay since the last `gc` command */
const loopDelay = monitorEventLoopDelay({ resolution: 1 })
loopDelay.enable()
new PerformanceObserver(list => {
  gcPauses.push(...list.getEntries().map(entry => entry.duration))
}).observe({ entryTypes: ['gc'] })

const limits = { maxRegistrationsPerPeer: 1000, maxRegistrations: Number.MAX_SAFE_INTEGER, maxStoreBytes: Number.MAX_SAFE_INTEGER, maxRegistrationsPerHost: Number.MAX_SAFE_INTEGER }

const BASE58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz'

/**
 * A string shaped like an Ed25519 peer id, `12D3KooW` and 44 random base58
 * digits, made without a key
 */
function syntheticPeerId () {
  let id = '12D3KooW'

  for (const byte of randomBytes(44)) {
    id += BASE58[byte % 58]
  }

  return id
}

/**
 * Lets the event loop turn every 10,000 writes, so the connections' keepalive
 * pings are answered while a million registrations go in
 *
 * @param {number} i - the number of the write
 */
async function yieldEvery (i) {
  if (i % 10_000 === 9_999) {
    await new Promise(resolve => setImmediate(resolve))
  }
}

async function run (command) {
  switch (command.cmd) {
    case 'preload': {
      const lines = (await readFile(command.file, 'utf8')).split('\n').filter(line => line !== '')

      for (const [i, line] of lines.entries()) {
        const { peerId, record } = JSON.parse(line)
        await yieldEvery(i)
        await store.put({ peerId, namespace: command.ns, signedPeerRecord: Uint8Array.from(Buffer.from(record, 'base64')), expiresAt: Date.now() + command.ttl * 1000 }, limits)
      }

      return store.count()
    }
    case 'expiring': {
      const [first] = (await readFile(command.file, 'utf8')).split('\n')
      const record = Buffer.from(JSON.parse(first).record, 'base64')
      const expiresAt = Date.now() + command.in

      for (let i = 0; i < command.count; i++) {
        await yieldEvery(i)
        await store.put({ peerId: syntheticPeerId(), namespace: command.ns, signedPeerRecord: Uint8Array.from(record), expiresAt }, limits)
      }

      return store.count()
    }
    case 'count':
      return store.count()
    case 'gc': {
      const pauses = gcPauses
      gcPauses = []
      const loop = { maxMs: loopDelay.max / 1e6, p99Ms: loopDelay.percentile(99) / 1e6 }
      loopDelay.reset()
      return { count: pauses.length, maxMs: Math.max(0, ...pauses), totalMs: pauses.reduce((sum, pause) => sum + pause, 0), loop }
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`)
  }
}

const shutdown = shutdownOnSignals(node)

answer({ ready: true, peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map(ma => ma.toString()) })

await serveCommands(run)

await shutdown()

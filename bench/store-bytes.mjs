#!/usr/bin/env node
/**
 * What registrations cost the in-memory store, against what `maxStoreBytes`
 * reckons them at (`registrationBytes()` + `namespaceBytes()`): heap per
 * registration by record size and namespace layout, and how many
 * registrations the default budget holds before it refuses.
 *
 * Run `node_modules/.bin/node bench/store-bytes.mjs` after `npm run build`.
 * Each case runs in a child process of its own with --expose-gc, so heaps
 * never mix. Progress goes to stderr, a markdown table to stdout.
 *
 * Environment: BENCH_COST_SIZE (100000 registrations per case).
 */

import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_MAX_REGISTRATIONS, DEFAULT_MAX_REGISTRATIONS_PER_PEER, DEFAULT_MAX_STORE_BYTES, HOUR } from '../dist/src/constants.js'
import { MemoryRegistrationStore } from '../dist/src/server/memory-store.js'
import { log, positive, round, signedPeerRecord } from './lib.mjs'

const SELF = fileURLToPath(import.meta.url)
const SIZE = positive('BENCH_COST_SIZE', 100_000)
const UNBOUNDED = { maxRegistrationsPerPeer: DEFAULT_MAX_REGISTRATIONS_PER_PEER, maxRegistrations: Number.MAX_SAFE_INTEGER, maxStoreBytes: Number.MAX_SAFE_INTEGER, maxRegistrationsPerHost: Number.MAX_SAFE_INTEGER }
const DEFAULTS = { maxRegistrationsPerPeer: DEFAULT_MAX_REGISTRATIONS_PER_PEER, maxRegistrations: DEFAULT_MAX_REGISTRATIONS, maxStoreBytes: DEFAULT_MAX_STORE_BYTES, maxRegistrationsPerHost: Number.MAX_SAFE_INTEGER }

/**
 * A real signed peer record with `addresses` TCP addresses
 *
 * @param {number} addresses - how many
 */
async function record (addresses) {
  const multiaddrs = Array.from({ length: addresses }, (_, i) => multiaddr(`/ip4/10.${(i >> 8) & 255}.${i & 255}.1/tcp/${1000 + i}`))
  return signedPeerRecord(await generateKeyPair('Ed25519'), multiaddrs)
}

/**
 * Registrations as the point stores them: a real peer id string, a namespace
 * decoded per request, a copy of the record with its last bytes varied
 *
 * @param {Uint8Array} template - the record
 * @param {string} layout - shared: one namespace; distinct: one short namespace each; long: one of 245 bytes each
 */
function * registrations (template, layout) {
  const decoder = new TextDecoder()
  const shared = new TextEncoder().encode('bench-namespace')
  let keys = randomBytes(0)

  for (let i = 0; ; i++) {
    if (i % 1024 === 0) {
      keys = randomBytes(32 * 1024)
    }

    const signedPeerRecord = template.slice()
    signedPeerRecord[signedPeerRecord.length - 1] = i & 0xff
    signedPeerRecord[signedPeerRecord.length - 2] = (i >> 8) & 0xff
    signedPeerRecord[signedPeerRecord.length - 3] = (i >> 16) & 0xff
    const offset = (i % 1024) * 32

    yield {
      peerId: peerIdFromPublicKey(publicKeyFromRaw(keys.subarray(offset, offset + 32))).toString(),
      namespace: layout === 'shared' ? decoder.decode(shared) : layout === 'distinct' ? `ns-${i}` : `${'n'.repeat(238)}-${i}`,
      signedPeerRecord,
      expiresAt: Date.now() + HOUR
    }
  }
}

function heapNow () {
  globalThis.gc()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.external
}

/**
 * Heap per registration, and what the store reckons, for SIZE registrations
 *
 * @param {number} addresses - addresses in each record
 * @param {string} layout - of the namespaces
 */
async function costChild (addresses, layout) {
  const template = await record(addresses)
  const store = new MemoryRegistrationStore()
  const items = registrations(template, layout)
  const before = heapNow()

  for (let i = 0; i < SIZE; i++) {
    await store.put(items.next().value, UNBOUNDED)
  }

  const heap = (heapNow() - before) / SIZE
  return { addresses, layout, recordBytes: template.byteLength, registrations: store.count(), heapPerRegistration: heap, reckonedPerRegistration: store.bytes() / SIZE }
}

/**
 * Registrations the default limits take before the store refuses one
 *
 * @param {number} addresses - addresses in each record
 */
async function fillChild (addresses) {
  const template = await record(addresses)
  const store = new MemoryRegistrationStore()
  const before = heapNow()
  let refusal

  for (const item of registrations(template, 'shared')) {
    try {
      await store.put(item, DEFAULTS)
    } catch (err) {
      refusal = err.statusText
      break
    }
  }

  return { addresses, recordBytes: template.byteLength, registrations: store.count(), heapMiB: (heapNow() - before) / 2 ** 20, reckonedMiB: store.bytes() / 2 ** 20, refusal }
}

async function child (args) {
  const out = []
  const running = spawn(process.execPath, ['--expose-gc', SELF, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
  running.stdout.on('data', chunk => out.push(chunk))
  const code = await new Promise(resolve => running.once('exit', resolve))

  if (code !== 0) {
    throw new Error(`${args.join(' ')} exited with ${code}`)
  }

  return JSON.parse(Buffer.concat(out).toString())
}

async function main () {
  const costs = []

  for (const [addresses, layout] of [[1, 'shared'], [20, 'shared'], [300, 'shared'], [667, 'shared'], [1, 'distinct'], [1, 'long']]) {
    const result = await child(['cost', String(addresses), layout])
    log(`${result.recordBytes}-byte records, ${layout} namespace: ${round(result.heapPerRegistration)} B heap, ${round(result.reckonedPerRegistration)} B reckoned per registration`)
    costs.push(result)
  }

  const fills = []

  for (const addresses of [1, 300, 667]) {
    const result = await child(['fill', String(addresses)])
    log(`${result.recordBytes}-byte records: ${result.registrations} held, then "${result.refusal}"`)
    fills.push(result)
  }

  process.stdout.write(`Heap per registration (${SIZE} registrations, heapUsed + external after GC) against what maxStoreBytes reckons:

| record | namespaces | heap per registration | reckoned | reckoned / heap |
| ---: | --- | ---: | ---: | ---: |
${costs.map(c => `| ${c.recordBytes} B | ${c.layout} | ${Math.round(c.heapPerRegistration)} B | ${Math.round(c.reckonedPerRegistration)} B | ${round(c.reckonedPerRegistration / c.heapPerRegistration)} |`).join('\n')}

The default limits (${DEFAULT_MAX_REGISTRATIONS} registrations, ${DEFAULT_MAX_STORE_BYTES} bytes), filled until a REGISTER is refused:

| record | registrations held | heap | reckoned | refused with |
| ---: | ---: | ---: | ---: | --- |
${fills.map(f => `| ${f.recordBytes} B | ${f.registrations} | ${Math.round(f.heapMiB)} MiB | ${Math.round(f.reckonedMiB)} MiB | ${f.refusal} |`).join('\n')}
`)
}

const [mode, ...args] = process.argv.slice(2)

if (mode == null) {
  main().catch(err => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
} else {
  (mode === 'cost' ? costChild(Number(args[0]), args[1]) : fillChild(Number(args[0]))).then(result => {
    process.stdout.write(JSON.stringify(result))
  }, err => {
    process.stderr.write(`${err.stack ?? err.message}\n`)
    process.exit(1)
  })
}

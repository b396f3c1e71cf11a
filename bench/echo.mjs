#!/usr/bin/env node
/*
 * The echo floor: the `rendezvous-server` command's libp2p node
 * (packages/server/src/node.ts: the same transports, encryption,
 * multiplexing, identify, connection limits and peer-store settings) serving
 * the echo protocol (bench/lib.mjs) instead of rendezvous. What a request,
 * a connection or a held connection costs it is the floor under what they
 * cost our point on this stack.
 *
 * ECHO_WITHOUT (comma-separated) takes back what the command changed in
 * js-libp2p's defaults, one by one, to measure what each buys:
 * `monitor` (the connection monitor), `logger` (@libp2p/logger's loggers),
 * `record` (identify seals a record per connection), `forget` (the peer
 * store keeps every client), `list` (libp2p's own getConnections()),
 * `cork` (@libp2p/tcp writes each frame at once), `key` (@libp2p/crypto's
 * key imports it for every signature), `keepalive` (yamux pings every
 * connection every 30 s), `merge` (every inbound stream writes its protocol
 * into the peer store), `identify` (identify runs on every connection),
 * `x25519` (noise's own X25519, its keys imported for every exchange),
 * `chacha` (noise's own ChaCha20-Poly1305, the session key imported for
 * every message),
 * `self` (identify reads the point's own peer data from the store for every
 * answer), `addresses` (identify has the address manager work out the
 * point's addresses for every answer), `decoder` (noise's frame decoder
 * builds a `RangeError` for every chunk it reads), `turns` (noise encrypts
 * each frame yamux writes as a message of its own), `release` (the node keeps
 * the memory a burst took when it goes quiet).
 *
 * Prints one JSON line when ready, `{"ready":true,"peerId","multiaddrs"}`,
 * and stops on SIGTERM, SIGINT or the end of stdin.
 */

import { createInterface } from 'node:readline'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { defaultLogger } from '@libp2p/logger'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { parseFlags } from '../packages/server/dist/src/flags.js'
import { pointNodeOptions } from '../packages/server/dist/src/node.js'
import { pointNoiseCrypto } from '../packages/server/dist/src/noise-crypto.js'
import { identifyWithOwnAddresses } from '../packages/server/dist/src/own-addresses.js'
import { encryptOncePerTurn } from '../packages/server/dist/src/noise-turns.js'
import { pointNoise } from '../packages/server/dist/src/point-noise.js'
import { readLengthsQuietly } from '../packages/server/dist/src/quiet-noise.js'
import { answer, ECHO_PROTOCOL, handleEcho, shutdownOnSignals } from './lib.mjs'

// the command's options as `rendezvous-server --memory` has them, and the
// flags this script is given (bench/points.mjs raises --max-connections)
const options = parseFlags(['--memory', '--listen', '/ip4/127.0.0.1/tcp/0', ...process.argv.slice(2)])
const privateKey = await generateKeyPair('Ed25519')
const libp2pOptions = pointNodeOptions(options, privateKey, {})
const without = new Set(process.env.ECHO_WITHOUT?.split(',').filter(item => item !== ''))
let noiseCrypto = pointNoiseCrypto

for (const item of without) {
  switch (item) {
    case 'monitor': libp2pOptions.connectionMonitor = { enabled: true }; break
    case 'logger': libp2pOptions.logger = defaultLogger(); break
    case 'record': delete libp2pOptions.services.pointPeerStore; break
    case 'forget': delete libp2pOptions.services.pointPeerStore; break
    case 'list': delete libp2pOptions.services.connectionList; break
    case 'cork': libp2pOptions.transports = [tcp()]; break
    case 'keepalive': libp2pOptions.streamMuxers = [yamux()]; break
    case 'merge': break
    case 'key': libp2pOptions.privateKey = privateKey; break
    case 'identify': break
    case 'addresses': break
    case 'x25519': noiseCrypto = { ...noiseCrypto, generateX25519KeyPair: defaultCrypto.generateX25519KeyPair, generateX25519SharedKey: defaultCrypto.generateX25519SharedKey }; break
    case 'chacha': noiseCrypto = { ...noiseCrypto, chaCha20Poly1305Encrypt: defaultCrypto.chaCha20Poly1305Encrypt, chaCha20Poly1305Decrypt: defaultCrypto.chaCha20Poly1305Decrypt }; break
    case 'self': break
    case 'decoder': break
    case 'turns': break
    case 'release': delete libp2pOptions.services.memoryRelease; break
    default: throw new Error(`ECHO_WITHOUT: unknown ${item}`)
  }
}

if (without.has('identify') || without.has('addresses')) {
  const identifyService = without.has('addresses') ? identify : identifyWithOwnAddresses
  libp2pOptions.services.identify = identifyService({ runOnConnectionOpen: without.has('identify') })
}

if (noiseCrypto !== pointNoiseCrypto || without.has('decoder') || without.has('turns')) {
  const changes = [
    ...(without.has('decoder') ? [] : [readLengthsQuietly]),
    ...(without.has('turns') ? [] : [encryptOncePerTurn])
  ]
  libp2pOptions.connectionEncrypters = [pointNoise({ crypto: noiseCrypto }, changes)]
}

const node = await createLibp2p(libp2pOptions)

// the peer store's own merge and get back, which the point's peer store
// wraps (unless it is gone altogether)
if (without.has('merge') && node.services.pointPeerStore != null) {
  node.components.peerStore.merge = node.services.pointPeerStore.merge
}

if (without.has('self') && node.services.pointPeerStore != null) {
  node.components.peerStore.get = node.services.pointPeerStore.get
}

// as many streams at once as the rendezvous service allows by default
await node.handle(ECHO_PROTOCOL, handleEcho, { maxInboundStreams: 16 })

const shutdown = shutdownOnSignals(node)

answer({ ready: true, peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map(ma => ma.toString()) })

for await (const _ of createInterface({ input: process.stdin })) {
  // commands: none
}

await shutdown()

#!/usr/bin/env node
/*
 * The echo floor: the `rendezvous-server` command's libp2p node
 * (packages/server/src/node.ts: the same transports, encryption,
 * multiplexing, identify, connection limits and peer-store settings) serving
 * the echo protocol (bench/lib.mjs) instead of rendezvous. What a request,
 * a connection or a held connection costs it is the floor under what they
 * cost our point on this stack.
 *
 * Prints one JSON line when ready, `{"ready":true,"peerId","multiaddrs"}`,
 * and stops on SIGTERM, SIGINT or the end of stdin.
 */

import { createInterface } from 'node:readline'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createLibp2p } from 'libp2p'
import { parseFlags } from '../packages/server/dist/src/flags.js'
import { pointNodeOptions } from '../packages/server/dist/src/node.js'
import { ECHO_PROTOCOL, handleEcho } from './lib.mjs'

// the command's options as `rendezvous-server --memory` has them
const options = parseFlags(['--memory', '--listen', '/ip4/127.0.0.1/tcp/0'])
const node = await createLibp2p(pointNodeOptions(options, await generateKeyPair('Ed25519'), {}))

// as many streams at once as the rendezvous service allows by default
await node.handle(ECHO_PROTOCOL, handleEcho, { maxInboundStreams: 16 })

async function shutdown () {
  await node.stop()
  process.exit(0)
}

process.once('SIGTERM', () => { void shutdown() })
process.once('SIGINT', () => { void shutdown() })

process.stdout.write(`${JSON.stringify({ ready: true, peerId: node.peerId.toString(), multiaddrs: node.getMultiaddrs().map(ma => ma.toString()) })}\n`)

for await (const _ of createInterface({ input: process.stdin })) {
  // commands: none
}

await shutdown()

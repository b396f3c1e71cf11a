#!/usr/bin/env node
// A libp2p 2.x node running @canvas-js/libp2p-rendezvous, driven over stdio by
// the interop tests (test/interop/canvas.node.ts).
//
//   node peer.mjs point
//     a canvas rendezvous server
//   node peer.mjs client <rendezvous point multiaddr> <namespace>
//     a canvas rendezvous client that registers itself in <namespace> at the
//     point as soon as it is connected, then discovers that namespace there
//
// Both speak /rendezvous/1.0.0 (canvas's default is /canvas/rendezvous/1.0.0)
// over TCP on 127.0.0.1 only. When ready the driver prints one JSON line on
// stdout, {"ready":true,"role":...,"peerId":...,"multiaddrs":[...]}, then reads
// one JSON command a line on stdin and answers each, in order, with one JSON
// line: {"id":<the command's id>,"result":...} or {"id":...,"error":"..."}.
//
//   {"cmd":"registrations","ns":"x"}  point: what the store holds in x, as
//                                     [{"peerId","multiaddrs","ttl"}] (ttl in s)
//   {"cmd":"discover","ns":"x","limit":n}
//                                     client: DISCOVER at the point, as
//                                     [{"peerId","multiaddrs"}]
//   {"cmd":"register","ns":"x","ttl":s}
//                                     client: REGISTER at the point, as {"ttl"}
//   {"cmd":"unregister","ns":"x","flush":true}
//                                     client: UNREGISTER at the point; canvas
//                                     loses the frame unless flush is true,
//                                     which follows it with a DISCOVER on the
//                                     same stream and waits for its answer
//   {"cmd":"peers"}                   client: the peer ids its discovery emitted
//   {"cmd":"preload","ns":"x","file":f,"ttl":s}
//                                     point: puts the registrations of a file
//                                     of JSON lines {peerId, record} (record in
//                                     base64) straight into the store, for the
//                                     benchmarks (bench/run.mjs)
//
// CANVAS_MAX_DISCOVER_LIMIT sets the point's largest DISCOVER page (canvas's
// default is 64).
//
// It stops and exits on the end of stdin, SIGTERM or SIGINT. Logs go to stderr
// (DEBUG=canvas:* for canvas's own).

// libp2p 2.x uses Promise.withResolvers, which Node.js has from 22 on
if (typeof Promise.withResolvers !== 'function') {
  Promise.withResolvers = function withResolvers () {
    let resolve
    let reject
    const promise = new this((res, rej) => {
      resolve = res
      reject = rej
    })
    return { promise, resolve, reject }
  }
}

const PROTOCOL = '/rendezvous/1.0.0'

const { createInterface } = await import('node:readline')
const { noise } = await import('@chainsafe/libp2p-noise')
const { yamux } = await import('@chainsafe/libp2p-yamux')
const { identify } = await import('@libp2p/identify')
const { tcp } = await import('@libp2p/tcp')
const { multiaddr } = await import('@multiformats/multiaddr')
const { createLibp2p } = await import('libp2p')
const { RendezvousServer, rendezvousServer } = await import('@canvas-js/libp2p-rendezvous/server')
const { RendezvousClient, rendezvousClient } = await import('@canvas-js/libp2p-rendezvous/client')

const [role, pointArg, namespaceArg] = process.argv.slice(2)

function usage (message) {
  process.stderr.write(`peer.mjs: ${message}\nusage: peer.mjs point | peer.mjs client <point multiaddr> <namespace>\n`)
  process.exit(2)
}

if (role !== 'point' && role !== 'client') {
  usage(`unknown role ${JSON.stringify(role)}`)
}

if (role === 'client' && (pointArg == null || namespaceArg == null)) {
  usage('client needs a rendezvous point multiaddr and a namespace')
}

// both read the static at the time they register their handler or topology
RendezvousServer.protocol = PROTOCOL
RendezvousClient.protocol = PROTOCOL

const point = role === 'client' ? multiaddr(pointArg) : undefined

if (point != null && !['127.0.0.1', '::1', 'localhost'].includes(point.toOptions().host)) {
  usage(`the rendezvous point must be on a loopback address, not ${pointArg}`)
}

const services = { identify: identify() }

if (role === 'point') {
  services.rendezvous = rendezvousServer(process.env.CANVAS_MAX_DISCOVER_LIMIT == null ? {} : { maxDiscoverLimit: Number(process.env.CANVAS_MAX_DISCOVER_LIMIT) })
} else {
  services.rendezvous = rendezvousClient({
    autoRegister: {
      namespaces: [namespaceArg],
      multiaddrs: [pointArg],
      initialTimeout: 0,
      retryInterval: 1000
    },
    autoDiscover: true
  })
}

const node = await createLibp2p({
  addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
  transports: [tcp()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  services
})

const rendezvous = node.services.rendezvous
const emitted = []

if (role === 'client') {
  rendezvous.addEventListener('peer', (event) => {
    emitted.push(event.detail.id.toString())
  })
}

let stopping = false

async function shutdown (code) {
  if (stopping) {
    return
  }

  stopping = true

  try {
    await node.stop()
  } catch (err) {
    process.stderr.write(`peer.mjs: stopping failed: ${err.stack ?? err}\n`)
  }

  process.exit(code)
}

process.once('SIGTERM', () => { void shutdown(0) })
process.once('SIGINT', () => { void shutdown(0) })

function peerOf (id, multiaddrs) {
  return { peerId: id.toString(), multiaddrs: multiaddrs.map(ma => ma.toString()) }
}

function only (wanted, command) {
  if (role !== wanted) {
    throw new Error(`${command.cmd} is a ${wanted} command`)
  }
}

async function run (command) {
  switch (command.cmd) {
    case 'registrations': {
      only('point', command)
      const now = BigInt(Math.ceil(Date.now() / 1000))
      const found = []
      for await (const registration of rendezvous.store.iterate({ namespace: command.ns })) {
        if (registration.expiration > now) {
          found.push({ ...peerOf(registration.peerId, registration.multiaddrs), ttl: Number(registration.expiration - now) })
        }
      }
      return found
    }
    case 'discover': {
      only('client', command)
      const peers = await rendezvous.connect(point, async p => p.discover(command.ns, { limit: command.limit }))
      return peers.map(peer => peerOf(peer.id, peer.addresses.map(address => address.multiaddr)))
    }
    case 'register': {
      only('client', command)
      return rendezvous.connect(point, async p => p.register(command.ns, { ttl: command.ttl }))
    }
    case 'unregister': {
      only('client', command)
      await rendezvous.connect(point, async p => {
        await p.unregister(command.ns)

        // canvas's unregister() only queues the frame, and connect() closes
        // the stream as soon as this callback returns, which loses the frame
        // before it is written. A DISCOVER after it on the same stream keeps
        // the stream open until its answer, which comes after the point
        // read the UNREGISTER.
        if (command.flush === true) {
          await p.discover(command.ns)
        }
      })
      return null
    }
    case 'preload': {
      only('point', command)
      const { readFile } = await import('node:fs/promises')
      const lines = (await readFile(command.file, 'utf8')).split('\n').filter(line => line !== '')
      for (const line of lines) {
        const { peerId, record } = JSON.parse(line)
        // canvas's store only calls toString() on the peer id
        rendezvous.store.register(command.ns, { toString: () => peerId }, Uint8Array.from(Buffer.from(record, 'base64')), BigInt(command.ttl))
      }
      return lines.length
    }
    case 'peers': {
      return [...new Set(emitted)]
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command.cmd)}`)
  }
}

function answer (message) {
  process.stdout.write(JSON.stringify(message) + '\n')
}

answer({
  ready: true,
  role,
  peerId: node.peerId.toString(),
  multiaddrs: node.getMultiaddrs().map(ma => ma.toString())
})

for await (const line of createInterface({ input: process.stdin })) {
  if (line.trim() === '') {
    continue
  }

  let command

  try {
    command = JSON.parse(line)
  } catch (err) {
    answer({ error: `not JSON: ${err.message}` })
    continue
  }

  try {
    answer({ id: command.id, result: await run(command) })
  } catch (err) {
    answer({ id: command.id, error: err.message ?? String(err) })
  }
}

await shutdown(0)

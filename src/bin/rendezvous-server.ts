#!/usr/bin/env node
/**
 * The `rendezvous-server` command: a rendezvous point for operators, with
 * persistent registrations, a stable identity and Prometheus metrics
 */

import { mkdir, readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { resolve } from 'node:path'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { randomBytes } from '@libp2p/crypto'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { defaultLogger } from '@libp2p/logger'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { createLibp2p } from 'libp2p'
import { register } from 'prom-client'
import { rendezvousServer } from '../index.ts'
import { DatastoreRegistrationStore } from '../server/datastore-store.ts'
import { MemoryRegistrationStore } from '../server/memory-store.ts'
import { RedisRegistrationStore } from '../server/redis-store.ts'
import { redactUrl } from '../server/redis-url.ts'
import { parseFlags, USAGE, UsageError } from './flags.ts'
import type { CommandOptions } from './flags.ts'
import type { RegistrationStore } from '../server/registration-store.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'
import type { Server } from 'node:http'

const IDENTITY_KEY = new Key('/rendezvous/identity')
const COOKIE_SECRET_KEY = new Key('/rendezvous/cookie-secret')

async function main (args: string[]): Promise<void> {
  let options: CommandOptions

  try {
    options = parseFlags(args)
  } catch (err: any) {
    if (err instanceof UsageError) {
      process.stderr.write(`rendezvous-server: ${err.message}\nTry 'rendezvous-server --help'.\n`)
      process.exit(2)
    }

    throw err
  }

  if (options.help) {
    process.stdout.write(USAGE)
    return
  }

  if (options.version) {
    process.stdout.write(`${await version()}\n`)
    return
  }

  let datastore: LevelDatastore | undefined

  if (options.dataDir != null) {
    await mkdir(options.dataDir, { recursive: true })
    datastore = new LevelDatastore(resolve(options.dataDir))
    await datastore.open()
  }

  const logger = defaultLogger()
  let store: RegistrationStore
  let cookieSecret: Uint8Array | undefined

  if (options.redis != null) {
    // registrations and the cookie secret are shared by every point using
    // this Redis; the identity stays per point, in its data directory
    const redisStore = new RedisRegistrationStore({ url: options.redis, logger })

    try {
      cookieSecret = await redisStore.cookieSecret()
    } catch (err: any) {
      process.stderr.write(`rendezvous-server: ${err.statusText ?? err.message}\n`)
      await redisStore.stop()
      await datastore?.close()
      process.exit(1)
    }

    store = redisStore
  } else if (datastore == null) {
    store = new MemoryRegistrationStore()
  } else {
    store = new DatastoreRegistrationStore({ datastore, logger })
    cookieSecret = await loadSecret(datastore, COOKIE_SECRET_KEY, 32)
  }

  const node = await createLibp2p({
    privateKey: datastore == null ? await generateKeyPair('Ed25519') : await loadIdentity(datastore),
    addresses: { listen: options.listen },
    transports: [tcp(), webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: {
      maxConnections: options.maxConnections,
      inboundConnectionThreshold: options.inboundConnectionThreshold,
      maxIncomingPendingConnections: options.maxIncomingPendingConnections,
      allow: options.allow
    },
    metrics: options.metricsPort == null ? undefined : prometheusMetrics(),
    services: {
      identify: identify(),
      rendezvousServer: rendezvousServer({
        ...options.server,
        store,
        cookieSecret
      })
    }
  })

  const metricsServer = options.metricsPort == null ? undefined : await serveMetrics(options.metricsPort, options.metricsHost)

  process.stderr.write(`rendezvous-server: peer id ${node.peerId}, ${await store.count()} registrations, ${where(options)}\n`)

  let stopping = false

  const shutdown = async (signal: string): Promise<void> => {
    // one shutdown only: a second would close the datastore under the
    // first while the point still writes to it
    if (stopping) {
      process.stderr.write(`rendezvous-server: ${signal}, already stopping\n`)
      return
    }

    stopping = true
    process.stderr.write(`rendezvous-server: ${signal}, stopping\n`)
    await node.stop()
    metricsServer?.close()
    await datastore?.close()
    process.exit(0)
  }

  // before the addresses are printed: whoever waits for them may signal at
  // once, and the write can wake it before this process runs another line.
  // Every signal is handled, so one during the shutdown cannot kill it.
  process.on('SIGINT', () => { void shutdown('SIGINT') })
  process.on('SIGTERM', () => { void shutdown('SIGTERM') })

  for (const ma of node.getMultiaddrs()) {
    process.stdout.write(`${ma}\n`)
  }
}

/**
 * Where the point keeps what, for its first line on stderr
 */
function where (options: CommandOptions): string {
  const data = options.dataDir == null ? undefined : resolve(options.dataDir)

  if (options.redis != null) {
    return `registrations in ${redactUrl(options.redis)}, ${data == null ? 'a new identity' : `identity in ${data}`}`
  }

  return data == null ? 'nothing kept on disk' : `data in ${data}`
}

/**
 * The point's key, created on first run and kept, so its peer id never
 * changes: clients have it in their configuration
 */
async function loadIdentity (datastore: Datastore): Promise<PrivateKey> {
  if (await datastore.has(IDENTITY_KEY)) {
    return privateKeyFromProtobuf(await datastore.get(IDENTITY_KEY))
  }

  const privateKey = await generateKeyPair('Ed25519')
  await datastore.put(IDENTITY_KEY, privateKeyToProtobuf(privateKey))

  return privateKey
}

/**
 * A secret created on first run and kept, so cookies outlive restarts
 */
async function loadSecret (datastore: Datastore, key: Key, length: number): Promise<Uint8Array> {
  if (await datastore.has(key)) {
    return datastore.get(key)
  }

  const secret = randomBytes(length)
  await datastore.put(key, secret)

  return secret
}

async function serveMetrics (port: number, host: string): Promise<Server> {
  const server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end()
      return
    }

    register.metrics().then(text => {
      response.writeHead(200, { 'content-type': register.contentType }).end(text)
    }, (err: Error) => {
      response.writeHead(500).end(err.message)
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })

  const address = server.address()
  const boundPort = typeof address === 'object' && address != null ? address.port : port
  process.stderr.write(`rendezvous-server: metrics at http://${host}:${boundPort}/metrics\n`)

  return server
}

/**
 * The version in this package's package.json, found from this file whether
 * it runs from `src/` or `dist/src/`
 */
async function version (): Promise<string> {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(await readFile(new URL('package.json', dir), 'utf8'))

      if (pkg.name === 'libp2p-rendezvous') {
        return pkg.version
      }
    } catch {
      // no package.json here: look further up
    }
  }

  return 'unknown'
}

main(process.argv.slice(2)).catch(err => {
  process.stderr.write(`rendezvous-server: ${err.stack ?? err.message}\n`)
  process.exit(1)
})

#!/usr/bin/env node
/**
 * The `rendezvous-server` command: a rendezvous point for operators, with
 * persistent registrations, a stable identity and Prometheus metrics
 */

import { mkdir, readFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { LevelDatastore } from 'datastore-level'
import { createLibp2p } from 'libp2p'
import { DatastoreRegistrationStore, MemoryRegistrationStore, rendezvousServer } from 'libp2p-rendezvous'
import { RedisRegistrationStore, redactUrl } from 'libp2p-rendezvous-redis'
import { parseFlags, USAGE, UsageError } from './flags.ts'
import { serveHttp } from './http.ts'
import { loadCookieSecret, loadIdentity, loadKeyFile } from './identity.ts'
import { commandLogger } from './logger.ts'
import { pointNodeOptions } from './node.ts'
import { pointSignatureVerifier } from './signature-verifier.ts'
import type { CommandOptions } from './flags.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { TransportManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { RegistrationStore } from 'libp2p-rendezvous'

async function main (args: string[]): Promise<void> {
  let options: CommandOptions

  try {
    options = parseFlags(args, process.env)
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

  const logger = commandLogger()
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
    cookieSecret = await loadCookieSecret(datastore)
  }

  const verifier = await pointSignatureVerifier()

  if (verifier.error != null) {
    process.stderr.write(`rendezvous-server: libsodium did not load (${verifier.error.message}), so signatures are checked through ${verifier.name}, at three times the CPU\n`)
  }

  const node = await createLibp2p(pointNodeOptions(options, await identity(options, datastore), {
    rendezvousServer: rendezvousServer({
      ...options.server,
      store,
      cookieSecret,
      verifySignature: verifier.verifySignature
    }),
    listening: listeningAddresses
  }))

  const http = options.metricsPort == null ? undefined : await serveHttp(options.metricsPort, options.metricsHost, store)

  process.stderr.write(`rendezvous-server: peer id ${node.peerId}, ${await store.count()} registrations, ${where(options)}\n`)

  if (http != null) {
    process.stderr.write(`rendezvous-server: metrics at ${http.url}/metrics (health checks: /healthz, /readyz)\n`)
  }

  let stopping: Promise<void> | undefined
  const shutdown = async (signal: string): Promise<void> => {
    // a second signal while stopping changes nothing: the first shutdown
    // closes the store and exits once the node has stopped
    if (stopping != null) {
      process.stderr.write(`rendezvous-server: ${signal}, already stopping\n`)
      return stopping
    }

    process.stderr.write(`rendezvous-server: ${signal}, stopping\n`)
    stopping = (async () => {
      await node.stop()
      http?.server.close()
      await datastore?.close()
      process.exit(0)
    })()

    return stopping
  }

  // before the addresses are printed: whoever waits for them may signal at
  // once, and the write can wake it before this process runs another line
  process.on('SIGINT', () => { void shutdown('SIGINT') })
  process.on('SIGTERM', () => { void shutdown('SIGTERM') })

  // one line per address, dialable ones first: those it listens on, then
  // those it announces
  const printed = new Set<string>()
  const announced = options.announce.length > 0 ? node.getMultiaddrs() : []

  for (const ma of [...node.services.listening.addresses(), ...announced]) {
    const line = withPeerId(ma, node.peerId.toString())

    if (!printed.has(line)) {
      printed.add(line)
      process.stdout.write(`${line}\n`)
    }
  }
}

/**
 * A service that reads the node's listening addresses, which the node itself
 * no longer reports once it announces others
 */
function listeningAddresses (components: { transportManager: TransportManager }): { addresses(): Multiaddr[] } {
  return {
    addresses: () => components.transportManager.getAddrs()
  }
}

function withPeerId (ma: Multiaddr, peerId: string): string {
  return ma.getComponents().at(-1)?.value === peerId ? ma.toString() : `${ma}/p2p/${peerId}`
}

/**
 * The point's key: from --key-file, else from the data directory, else new
 */
async function identity (options: CommandOptions, datastore?: LevelDatastore): Promise<PrivateKey> {
  if (options.keyFile != null) {
    return loadKeyFile(resolve(options.keyFile), message => { process.stderr.write(`rendezvous-server: ${message}\n`) })
  }

  return datastore == null ? generateKeyPair('Ed25519') : loadIdentity(datastore)
}

/**
 * Where the point keeps what, for its first line on stderr
 */
function where (options: CommandOptions): string {
  const data = options.dataDir == null ? undefined : resolve(options.dataDir)
  const registrations = options.redis != null ? `registrations in ${redactUrl(options.redis)}` : data == null ? 'registrations in memory' : `registrations in ${data}`
  const identity = options.keyFile != null ? `identity in ${resolve(options.keyFile)}` : data == null ? 'a new identity' : `identity in ${data}`

  return `${registrations}, ${identity}`
}

/**
 * The version in this package's package.json, found from this file whether
 * it runs from `src/` or `dist/src/`
 */
async function version (): Promise<string> {
  for (let dir = new URL('.', import.meta.url); dir.pathname !== '/'; dir = new URL('..', dir)) {
    try {
      const pkg = JSON.parse(await readFile(new URL('package.json', dir), 'utf8'))

      if (pkg.name === 'libp2p-rendezvous-server') {
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

import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { DEFAULT_MAX_DISCOVER_LIMIT, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_NAMESPACE_LENGTH, DEFAULT_MAX_RECORD_SIZE, DEFAULT_MAX_REGISTRATIONS, DEFAULT_MAX_REGISTRATIONS_PER_PEER, DEFAULT_MAX_REQUEST_SIZE, DEFAULT_MAX_REQUESTS_PER_PEER, DEFAULT_MAX_STORE_BYTES, DEFAULT_MAX_TTL, DEFAULT_MIN_TTL, DEFAULT_RATE_LIMIT_WINDOW, DEFAULT_TIMEOUT, DEFAULT_TTL, SECOND } from '../constants.ts'
import { InvalidOptionError } from '../errors.ts'
import { checkRedisUrl } from '../server/redis-url.ts'
import { resolveServerInit } from '../server/rendezvous-server.ts'
import type { RendezvousServerInit } from '../server/rendezvous-server.ts'

/**
 * Where the command listens when no `--listen` is given: TCP and WebSockets
 * on every IPv4 interface
 */
export const DEFAULT_LISTEN = ['/ip4/0.0.0.0/tcp/6565', '/ip4/0.0.0.0/tcp/6566/ws']
export const DEFAULT_DATA_DIR = './rendezvous-data'
export const DEFAULT_MAX_CONNECTIONS = 5000
export const DEFAULT_INBOUND_CONNECTION_THRESHOLD = 100
export const DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS = 500

/**
 * A flag or its value is wrong: the command prints the message and exits with
 * code 2
 */
export class UsageError extends Error {
  static name = 'UsageError'
  name = 'UsageError'
}

export interface CommandOptions {
  help: boolean
  version: boolean
  listen: string[]
  dataDir?: string
  /**
   * Keep registrations and the cookie secret in this Redis, shared with every
   * point that uses it; the identity stays in `dataDir` (or is new each run)
   */
  redis?: string
  metricsPort?: number
  metricsHost: string
  maxConnections: number
  inboundConnectionThreshold: number
  maxIncomingPendingConnections: number
  allow: string[]
  server: RendezvousServerInit
}

interface NumberFlag {
  flag: string
  help: string
  default: number
  /**
   * Multiplies the flag's value into the server option's unit
   */
  scale?: number
  option?: keyof RendezvousServerInit
}

/**
 * The server limits, one flag each. Durations are in seconds on the command
 * line and in ms in the library.
 */
const SERVER_FLAGS: NumberFlag[] = [
  { flag: 'min-ttl', option: 'minTtl', scale: SECOND, default: DEFAULT_MIN_TTL / SECOND, help: 'shortest TTL accepted, seconds' },
  { flag: 'max-ttl', option: 'maxTtl', scale: SECOND, default: DEFAULT_MAX_TTL / SECOND, help: 'longest TTL accepted, seconds' },
  { flag: 'default-ttl', option: 'defaultTtl', scale: SECOND, default: DEFAULT_TTL / SECOND, help: 'TTL of a REGISTER without one, seconds' },
  { flag: 'max-namespace-length', option: 'maxNamespaceLength', default: DEFAULT_MAX_NAMESPACE_LENGTH, help: 'longest namespace, UTF-8 bytes' },
  { flag: 'max-registrations-per-peer', option: 'maxRegistrationsPerPeer', default: DEFAULT_MAX_REGISTRATIONS_PER_PEER, help: 'namespaces one peer may be registered in' },
  { flag: 'max-registrations', option: 'maxRegistrations', default: DEFAULT_MAX_REGISTRATIONS, help: 'registrations stored in all' },
  { flag: 'max-store-bytes', option: 'maxStoreBytes', default: DEFAULT_MAX_STORE_BYTES, help: 'bytes the registrations may take in all (records plus overhead)' },
  { flag: 'max-record-size', option: 'maxRecordSize', default: DEFAULT_MAX_RECORD_SIZE, help: 'largest signed peer record accepted, bytes' },
  { flag: 'max-discover-limit', option: 'maxDiscoverLimit', default: DEFAULT_MAX_DISCOVER_LIMIT, help: 'most registrations in one DISCOVER response' },
  { flag: 'max-message-size', option: 'maxMessageSize', default: DEFAULT_MAX_REQUEST_SIZE, help: 'largest request read, bytes' },
  { flag: 'max-inbound-streams', option: 'maxInboundStreams', default: DEFAULT_MAX_INBOUND_STREAMS, help: 'rendezvous streams per connection' },
  { flag: 'timeout', option: 'timeout', scale: SECOND, default: DEFAULT_TIMEOUT / SECOND, help: 'idle time before a stream is closed, seconds' },
  { flag: 'max-requests-per-peer', option: 'maxRequestsPerPeer', default: DEFAULT_MAX_REQUESTS_PER_PEER, help: 'requests one peer may send per rate limit window' },
  { flag: 'rate-limit-window', option: 'rateLimitWindow', scale: SECOND, default: DEFAULT_RATE_LIMIT_WINDOW / SECOND, help: 'window of --max-requests-per-peer, seconds' }
]

const CONNECTION_FLAGS: NumberFlag[] = [
  { flag: 'max-connections', default: DEFAULT_MAX_CONNECTIONS, help: 'open connections in all' },
  { flag: 'inbound-connection-threshold', default: DEFAULT_INBOUND_CONNECTION_THRESHOLD, help: 'new inbound connections per second from one host' },
  { flag: 'max-incoming-pending-connections', default: DEFAULT_MAX_INCOMING_PENDING_CONNECTIONS, help: 'inbound connections being set up at once' }
]

export const USAGE = `Usage: rendezvous-server [options]

Runs a libp2p rendezvous point (/rendezvous/1.0.0). Registrations, the peer
identity and the cookie secret are kept in the data directory; with --redis,
registrations and the cookie secret are kept in Redis instead, shared by
every point using it.

Options:
  --listen <multiaddr>        listen here (repeatable; default ${DEFAULT_LISTEN.join(' and ')})
  --data <dir>                data directory (default ${DEFAULT_DATA_DIR})
  --memory                    keep nothing on disk: new identity, empty store
  --redis <url>               keep registrations and the cookie secret in Redis
                              (redis://host:port[/db]), shared by every point
                              using it; the identity stays in --data (or is
                              new each run with --memory)
  --metrics-port <port>       serve Prometheus metrics on http://<metrics-host>:<port>/metrics
  --metrics-host <host>       address of the metrics server (default 127.0.0.1)
  --allow <multiaddr>         exempt this address from connection limits (repeatable)
${[...SERVER_FLAGS, ...CONNECTION_FLAGS].map(f => `  --${f.flag} <n>\n      ${f.help} (default ${f.default})`).join('\n')}
  --help                      print this text
  --version                   print the version
`

/**
 * Parses the command line; throws `UsageError` saying what is wrong
 */
export function parseFlags (args: string[]): CommandOptions {
  let values: Record<string, string | boolean | string[] | undefined>

  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean' },
        version: { type: 'boolean' },
        listen: { type: 'string', multiple: true },
        data: { type: 'string' },
        memory: { type: 'boolean' },
        redis: { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        allow: { type: 'string', multiple: true },
        ...Object.fromEntries([...SERVER_FLAGS, ...CONNECTION_FLAGS].map(f => [f.flag, { type: 'string' as const }]))
      }
    }).values
  } catch (err: any) {
    throw new UsageError(err.message)
  }

  if (values.memory === true && values.data != null) {
    throw new UsageError('--memory and --data exclude each other')
  }

  const redis = values.redis == null ? undefined : redisUrl(values.redis as string)
  const listen = (values.listen as string[] | undefined) ?? DEFAULT_LISTEN
  const allow = (values.allow as string[] | undefined) ?? []
  listen.forEach(ma => { checkMultiaddr('--listen', ma) })
  allow.forEach(ma => { checkMultiaddr('--allow', ma) })

  const server: RendezvousServerInit = {}

  for (const f of SERVER_FLAGS) {
    if (values[f.flag] != null && f.option != null) {
      (server as Record<string, number>)[f.option] = positiveNumber(f.flag, values[f.flag] as string) * (f.scale ?? 1)
    }
  }

  try {
    resolveServerInit(server)
  } catch (err: any) {
    if (err instanceof InvalidOptionError) {
      const flag = SERVER_FLAGS.find(f => f.option === err.option)?.flag ?? err.option
      throw new UsageError(`--${flag}: ${err.message} (the library's ${err.option} is in ms)`)
    }

    throw err
  }

  const connectionLimit = (f: NumberFlag): number => values[f.flag] == null ? f.default : positiveNumber(f.flag, values[f.flag] as string)
  const metricsPort = values['metrics-port'] == null ? undefined : port(values['metrics-port'] as string)

  return {
    help: values.help === true,
    version: values.version === true,
    listen,
    dataDir: values.memory === true ? undefined : (values.data as string | undefined) ?? DEFAULT_DATA_DIR,
    redis,
    metricsPort,
    metricsHost: (values['metrics-host'] as string | undefined) ?? '127.0.0.1',
    maxConnections: connectionLimit(CONNECTION_FLAGS[0]),
    inboundConnectionThreshold: connectionLimit(CONNECTION_FLAGS[1]),
    maxIncomingPendingConnections: connectionLimit(CONNECTION_FLAGS[2]),
    allow,
    server
  }
}

function positiveNumber (flag: string, value: string): number {
  const number = Number(value)

  if (value.trim() === '' || !Number.isSafeInteger(number) || number <= 0) {
    throw new UsageError(`--${flag} must be a positive integer, got "${value}"`)
  }

  return number
}

function port (value: string): number {
  const number = Number(value)

  if (value.trim() === '' || !Number.isInteger(number) || number < 0 || number > 65535) {
    throw new UsageError(`--metrics-port must be a port number from 0 to 65535, got "${value}"`)
  }

  return number
}

function redisUrl (value: string): string {
  try {
    checkRedisUrl(value)
  } catch (err: any) {
    throw new UsageError(`--redis ${err.message.replace(/^Invalid option "url": /, '')}`)
  }

  return value
}

function checkMultiaddr (flag: string, value: string): void {
  try {
    multiaddr(value)
  } catch (err: any) {
    throw new UsageError(`${flag} "${value}" is not a multiaddr: ${err.message}`)
  }
}

import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import {
  DEFAULT_MAX_DISCOVER_LIMIT, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_NAMESPACE_LENGTH, DEFAULT_MAX_RECORD_SIZE,
  DEFAULT_MAX_REGISTRATIONS, DEFAULT_MAX_REGISTRATIONS_PER_PEER, DEFAULT_MAX_REQUEST_SIZE, DEFAULT_MAX_REQUESTS_PER_PEER,
  DEFAULT_MAX_STORE_BYTES, DEFAULT_MAX_TTL, DEFAULT_MIN_TTL, DEFAULT_RATE_LIMIT_WINDOW, DEFAULT_TIMEOUT, DEFAULT_TTL,
  DEFAULT_IPV4_PREFIX_LENGTH, DEFAULT_IPV6_PREFIX_LENGTH, InvalidOptionError, rendezvousServer
} from 'libp2p-rendezvous'
import { checkRedisUrl } from 'libp2p-rendezvous-redis'
import type { RendezvousServerInit } from 'libp2p-rendezvous'

/**
 * Durations are seconds on the command line and ms in the library
 */
const SECOND = 1000

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
 * Every flag but `--help` and `--version` can also be set in the environment,
 * `--max-ttl` as `RENDEZVOUS_MAX_TTL`; a flag on the command line wins
 */
export const ENV_PREFIX = 'RENDEZVOUS_'

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
  /**
   * The addresses peers are told instead of the listening ones
   */
  announce: string[]
  dataDir?: string
  /**
   * A file holding the point's private key (protobuf), used instead of the
   * one in `dataDir`
   */
  keyFile?: string
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
  /**
   * Keep the memory a burst took when the point goes quiet, instead of
   * handing it back to the system
   */
  keepMemory: boolean
  server: RendezvousServerInit
}

interface NumberFlag {
  flag: string
  help: string
  /**
   * A number, or how the library computes it
   */
  default: number | string
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
  { flag: 'max-registrations-per-host', option: 'maxRegistrationsPerHost', default: '1 % of --max-registrations, at least 100', help: 'registrations the peers of one host (an IPv4 address, an IPv6 /64) may hold in all' },
  { flag: 'ipv4-prefix-length', option: 'ipv4PrefixLength', default: DEFAULT_IPV4_PREFIX_LENGTH, help: 'IPv4 addresses sharing this many leading bits are one host' },
  { flag: 'ipv6-prefix-length', option: 'ipv6PrefixLength', default: DEFAULT_IPV6_PREFIX_LENGTH, help: 'IPv6 addresses sharing this many leading bits are one host' },
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

/**
 * Every flag `parseArgs()` takes. Repeatable ones take a comma- or
 * space-separated list when they come from the environment.
 */
const OPTIONS = {
  help: { type: 'boolean' },
  version: { type: 'boolean' },
  listen: { type: 'string', multiple: true },
  announce: { type: 'string', multiple: true },
  data: { type: 'string' },
  memory: { type: 'boolean' },
  'keep-memory': { type: 'boolean' },
  'key-file': { type: 'string' },
  redis: { type: 'string' },
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  allow: { type: 'string', multiple: true },
  ...Object.fromEntries([...SERVER_FLAGS, ...CONNECTION_FLAGS].map(f => [f.flag, { type: 'string' }]))
} as const satisfies Record<string, { type: 'string' | 'boolean', multiple?: boolean }>

type Flag = keyof typeof OPTIONS

/**
 * The environment variable of a flag: `max-ttl` is `RENDEZVOUS_MAX_TTL`
 */
export function envVariable (flag: string): string {
  return `${ENV_PREFIX}${flag.toUpperCase().replaceAll('-', '_')}`
}

export const USAGE = `Usage: rendezvous-server [options]

Runs a libp2p rendezvous point (/rendezvous/1.0.0). Registrations, the peer
identity and the cookie secret are kept in the data directory; with --redis,
registrations and the cookie secret are kept in Redis instead, shared by
every point using it.

Every option can also be set in the environment: --max-ttl as
${envVariable('max-ttl')}=3600, --memory as ${envVariable('memory')}=true, repeatable ones as
a comma-separated list (${envVariable('listen')}=/ip4/0.0.0.0/tcp/6565,/ip4/0.0.0.0/tcp/6566/ws).
An option on the command line wins over its variable.

Options:
  --listen <multiaddr>        listen here (repeatable; default ${DEFAULT_LISTEN.join(' and ')})
  --announce <multiaddr>      tell peers this address instead of the listening ones,
                              e.g. behind NAT, a load balancer or in a container (repeatable)
  --data <dir>                data directory (default ${DEFAULT_DATA_DIR})
  --memory                    keep nothing on disk: new identity, empty store
  --key-file <path>           the point's private key, kept in this file (created,
                              mode 0600, when missing) instead of the data directory
  --redis <url>               keep registrations and the cookie secret in Redis
                              (redis://host:port[/db]), shared by every point
                              using it; the identity stays in --data (or is
                              new each run with --memory)
  --metrics-port <port>       serve Prometheus metrics on http://<metrics-host>:<port>/metrics,
                              and /healthz and /readyz for health checks
  --metrics-host <host>       address of the metrics server (default 127.0.0.1)
  --allow <multiaddr>         exempt this address, or range (/ip4/10.0.0.0/ipcidr/8),
                              from the connection limits and the per-host cap (repeatable)
  --keep-memory               keep the memory a burst of work took; without it, the
                              point hands it back to the system after 3 s of quiet
${[...SERVER_FLAGS, ...CONNECTION_FLAGS].map(f => `  --${f.flag} <n>\n      ${f.help} (default ${f.default})`).join('\n')}
  --help                      print this text
  --version                   print the version
`

/**
 * A value read from the command line or the environment, with the name to
 * blame when it is wrong: `--max-ttl` or `RENDEZVOUS_MAX_TTL`
 */
interface Setting<T> {
  value: T
  source: string
}

/**
 * Parses the command line, with the environment filling in what it leaves
 * out; throws `UsageError` saying what is wrong and where
 */
export function parseFlags (args: string[], env: Record<string, string | undefined> = {}): CommandOptions {
  let values: Record<string, string | boolean | string[] | undefined>

  try {
    values = parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS }).values
  } catch (err: any) {
    throw new UsageError(err.message)
  }

  const settings = new Map<Flag, Setting<string | boolean | string[]>>()

  for (const [flag, spec] of Object.entries(OPTIONS) as Array<[Flag, typeof OPTIONS[Flag]]>) {
    const value = values[flag]

    if (value != null) {
      settings.set(flag, { value, source: `--${flag}` })
      continue
    }

    const variable = envVariable(flag)
    const fromEnv = env[variable]

    if (flag === 'help' || flag === 'version' || fromEnv == null || fromEnv.trim() === '') {
      continue
    }

    if (spec.type === 'boolean') {
      settings.set(flag, { value: parseBoolean(variable, fromEnv), source: variable })
    } else if ('multiple' in spec && spec.multiple) {
      settings.set(flag, { value: fromEnv.split(/[\s,]+/).filter(item => item !== ''), source: variable })
    } else {
      settings.set(flag, { value: fromEnv, source: variable })
    }
  }

  const string = (flag: Flag): Setting<string> | undefined => settings.get(flag) as Setting<string> | undefined
  const list = (flag: Flag): Setting<string[]> | undefined => settings.get(flag) as Setting<string[]> | undefined
  const boolean = (flag: Flag): Setting<boolean> | undefined => settings.get(flag) as Setting<boolean> | undefined
  const memory = boolean('memory')
  const data = string('data')

  if (memory?.value === true && data != null) {
    throw new UsageError(`${memory.source} and ${data.source} exclude each other`)
  }

  const redis = string('redis')
  const listen = list('listen')?.value ?? DEFAULT_LISTEN
  const announce = list('announce')?.value ?? []
  const allow = list('allow')?.value ?? []
  listen.forEach(ma => { checkMultiaddr(list('listen')?.source ?? '--listen', ma) })
  announce.forEach(ma => { checkMultiaddr(list('announce')?.source ?? '--announce', ma) })
  allow.forEach(ma => { checkMultiaddr(list('allow')?.source ?? '--allow', ma) })

  if (redis != null) {
    checkRedis(redis)
  }

  // allowed addresses are exempt from the per-host cap as from the
  // connection limits
  const server: RendezvousServerInit = allow.length > 0 ? { exemptHosts: allow } : {}

  for (const f of SERVER_FLAGS) {
    const setting = string(f.flag as Flag)

    if (setting != null && f.option != null) {
      (server as Record<string, number>)[f.option] = positiveNumber(setting) * (f.scale ?? 1)
    }
  }

  try {
    // checks the options as the library will
    rendezvousServer(server)
  } catch (err: any) {
    if (err instanceof InvalidOptionError) {
      const flag = err.option === 'exemptHosts' ? 'allow' : SERVER_FLAGS.find(f => f.option === err.option)?.flag
      const source = flag == null ? err.option : settings.get(flag as Flag)?.source ?? `--${flag}`
      throw new UsageError(`${source}: ${err.message} (the library's ${err.option} is in ms)`)
    }

    throw err
  }

  const connectionLimit = (f: NumberFlag): number => {
    const setting = string(f.flag as Flag)
    return setting == null ? Number(f.default) : positiveNumber(setting)
  }
  const metricsPort = string('metrics-port')

  return {
    help: values.help === true,
    version: values.version === true,
    listen,
    announce,
    dataDir: memory?.value === true ? undefined : data?.value ?? DEFAULT_DATA_DIR,
    keyFile: string('key-file')?.value,
    redis: redis?.value,
    metricsPort: metricsPort == null ? undefined : port(metricsPort),
    metricsHost: string('metrics-host')?.value ?? '127.0.0.1',
    maxConnections: connectionLimit(CONNECTION_FLAGS[0]),
    inboundConnectionThreshold: connectionLimit(CONNECTION_FLAGS[1]),
    maxIncomingPendingConnections: connectionLimit(CONNECTION_FLAGS[2]),
    allow,
    keepMemory: boolean('keep-memory')?.value === true,
    server
  }
}

function parseBoolean (variable: string, value: string): boolean {
  const normalized = value.trim().toLowerCase()

  if (['1', 'true', 'yes', 'on'].includes(normalized)) {
    return true
  }

  if (['0', 'false', 'no', 'off'].includes(normalized)) {
    return false
  }

  throw new UsageError(`${variable} must be true or false, got "${value}"`)
}

function positiveNumber ({ value, source }: Setting<string>): number {
  const number = Number(value)

  if (value.trim() === '' || !Number.isSafeInteger(number) || number <= 0) {
    throw new UsageError(`${source} must be a positive integer, got "${value}"`)
  }

  return number
}

function port ({ value, source }: Setting<string>): number {
  const number = Number(value)

  if (value.trim() === '' || !Number.isInteger(number) || number < 0 || number > 65535) {
    throw new UsageError(`${source} must be a port number from 0 to 65535, got "${value}"`)
  }

  return number
}

function checkRedis ({ value, source }: Setting<string>): void {
  try {
    checkRedisUrl(value)
  } catch (err: any) {
    throw new UsageError(`${source} ${err.message.replace(/^Invalid option "url": /, '')}`)
  }
}

function checkMultiaddr (source: string, value: string): void {
  try {
    multiaddr(value)
  } catch (err: any) {
    throw new UsageError(`${source} "${value}" is not a multiaddr: ${err.message}`)
  }
}

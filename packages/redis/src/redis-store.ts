/**
 * A `RegistrationStore` on Redis, so several rendezvous points can share
 * their registrations: a peer registered at one point is discovered at every
 * other, and a DISCOVER cookie issued by one point works at the others (when
 * they also share the cookie secret, see `cookieSecret()`).
 *
 * Client library: node-redis, through its core package `@redis/client` (the
 * `redis` package re-exports it and adds the Redis Stack modules, JSON,
 * search, bloom and time series, that this store does not use). Of the two
 * Node.js clients it is the better-kept one: maintained by Redis itself,
 * released about monthly (6.0.0 to 6.3.1 from May to October 2026 per
 * `npm view`), TypeScript-native, no dependencies. ioredis still gets
 * releases, but its own README says it "is a stable project and maintenance
 * is done on a best-effort basis ... For new projects, node-redis is the
 * recommended client library".
 *
 * Needs Redis >= 7.0 (`PEXPIRETIME`), one server (primary), not Redis
 * Cluster: the scripts reach keys they cannot declare in advance.
 *
 * Node.js only; a package of its own (`libp2p-rendezvous-redis`), so Redis
 * never enters the installs and bundles of those who use the library alone.
 */

import { createHash, randomBytes } from 'node:crypto'
import { defaultLogger } from '@libp2p/logger'
import { repeatingTask } from '@libp2p/utils'
import { createClient, ErrorReply, RESP_TYPES } from '@redis/client'
import { DEFAULT_EXPIRY_INTERVAL, InternalError, namespaceBytes, overLimit, positiveInteger, registrationBytes, RendezvousError, timerDelay, UnavailableError } from 'libp2p-rendezvous'
import { checkRedisUrl, redactUrl } from './redis-url.ts'
import type { AbortOptions, ComponentLogger, Logger } from '@libp2p/interface'
import type { RepeatingTask } from '@libp2p/utils'
import type { RedisArgument, RedisClientOptions, TypeMapping } from '@redis/client'
import type { DiscoverPage, DiscoverQuery, NewRegistration, Registration, RegistrationLimits, RegistrationStore } from 'libp2p-rendezvous'

/**
 * The part of a node-redis client the store uses. A client made by
 * `createClient()` of `@redis/client` or of `redis` fits.
 */
export interface RedisConnection {
  readonly isOpen: boolean
  connect(): Promise<unknown>
  sendCommand<T = unknown>(args: readonly RedisArgument[], options?: { typeMapping?: TypeMapping, abortSignal?: AbortSignal, timeout?: number }): Promise<T>
}

export interface RedisRegistrationStoreInit {
  /**
   * The Redis server, e.g. `redis://127.0.0.1:6379` or
   * `rediss://user:password@redis.example.com:6380/2` (the path picks the
   * database). The store makes its own client, connects it on start and
   * closes it on stop. Ignored when `client` is given.
   *
   * @default 'redis://127.0.0.1:6379'
   */
  url?: string

  /**
   * More options for the client the store makes from `url` (TLS, timeouts,
   * credentials...)
   */
  clientOptions?: RedisClientOptions

  /**
   * A node-redis client of your own. The store connects it on start if it is
   * not open yet, and never closes it.
   */
  client?: RedisConnection

  /**
   * Every key the store writes starts with this. Points that share
   * registrations use the same prefix (and the same Redis database); two
   * fleets on one Redis use different ones.
   *
   * @default 'rendezvous:'
   */
  prefix?: string

  /**
   * How often expired registrations are removed from Redis, in ms. Expired
   * registrations are never served, whatever this is. Every point sharing the
   * store sweeps; sweeps are atomic and idempotent, so they never conflict.
   *
   * @default 10_000
   */
  expiryInterval?: number

  /**
   * Most expired registrations removed by one Lua script run, so a mass
   * expiry never blocks Redis for long
   *
   * @default 1000
   */
  expiryBatchSize?: number

  /**
   * How long one Redis command may take, in ms, before the request it serves
   * fails with `E_INTERNAL_ERROR`; while Redis is unreachable, commands wait
   * in the client's queue up to this long
   *
   * @default 5000
   */
  commandTimeout?: number

  logger?: ComponentLogger
}

/**
 * Expired registrations one DISCOVER skips at most beyond its `limit`, so a
 * page over a long run of expired, not yet swept registrations never makes
 * Redis scan it all at once: the page then ends early, and its cursor lets the
 * next request carry on after what was scanned
 */
export const REDIS_DISCOVER_MAX_SKIPPED = 1000

/**
 * Redis key TTLs are set this long after the registration's own expiry (ms),
 * a safety net that reclaims a registration's data and its peer's index if
 * no point sweeps any more, without ever racing the sweep or a clock a
 * little ahead of ours. Namespace indexes get none: a namespace counts
 * against `maxStoreBytes` until its last registration is swept.
 */
export const REDIS_KEY_TTL_GRACE = 60_000

const DEFAULT_PREFIX = 'rendezvous:'
const DEFAULT_EXPIRY_BATCH_SIZE = 1000
const DEFAULT_COMMAND_TIMEOUT = 5000
/**
 * Attempts to reach Redis when the store starts, before it gives up
 */
const INITIAL_CONNECT_ATTEMPTS = 5

const BUFFERS: TypeMapping = { [RESP_TYPES.BLOB_STRING]: Buffer }

/**
 * Keys, where P is the prefix and `id` is `<bytes of peer id>:<peer id>:<namespace>`,
 * which names a (peer, namespace) unambiguously whatever characters either
 * holds:
 *
 * - `P seq`: the shared sequence, INCR'd by every write
 * - `P all`: sorted set of ids by sequence, across namespaces
 * - `P ns:<namespace>`: sorted set of ids by sequence, per namespace
 * - `P expiry`: sorted set of ids by expiry (ms since the epoch)
 * - `P peer:<peer id>`: sorted set of the peer's ids by expiry, for its cap
 * - `P reg:<id>`: hash of peer, ns, record, expiresAt, sequence
 * - `P cost`: hash of each id's cost against `maxStoreBytes`
 * - `P bytes`: what the registrations and namespaces held cost in all
 * - `P host-of`: hash of each id's host, for ids counted against a host cap
 * - `P host:<host>`: sorted set of the host's ids by expiry, for its cap
 * - `P hosts`: sorted set of hosts by how many registrations they hold
 * - `P cookie-secret`: the secret every point's cookies are made with
 *
 * The scripts read ARGV[1] (the prefix) to reach keys they cannot name in
 * advance (those of expired registrations), so the store needs one Redis
 * server (with replicas or Sentinel if you like), not Redis Cluster.
 *
 * Numbers are passed as strings: Lua numbers are doubles and `tostring`
 * keeps only 14 digits, so sequences (µs since the epoch, 16 digits) are
 * formatted with `%d` and cursors are kept as the strings Redis returns.
 */
const LUA_COMMON = `
local prefix = ARGV[1]

local function parse (id)
  local colon = string.find(id, ':', 1, true)
  local length = tonumber(string.sub(id, 1, colon - 1))
  return string.sub(id, colon + 1, colon + length), string.sub(id, colon + length + 2)
end

-- what holding a namespace costs (namespaceBytes(): Lua's # counts bytes)
local function namespaceCost (ns)
  return #ns + ${namespaceBytes('')}
end

local function remove (id)
  local peer, ns = parse(id)
  local host = redis.call('HGET', prefix .. 'host-of', id)
  if host then
    redis.call('HDEL', prefix .. 'host-of', id)
    redis.call('ZREM', prefix .. 'host:' .. host, id)
    if tonumber(redis.call('ZINCRBY', prefix .. 'hosts', -1, host)) <= 0 then
      redis.call('ZREM', prefix .. 'hosts', host)
    end
  end
  redis.call('ZREM', prefix .. 'all', id)
  redis.call('ZREM', prefix .. 'expiry', id)
  local inNamespace = redis.call('ZREM', prefix .. 'ns:' .. ns, id)
  redis.call('ZREM', prefix .. 'peer:' .. peer, id)
  redis.call('DEL', prefix .. 'reg:' .. id)
  local cost = redis.call('HGET', prefix .. 'cost', id)
  if cost then
    redis.call('HDEL', prefix .. 'cost', id)
    redis.call('DECRBY', prefix .. 'bytes', cost)
  end
  -- the namespace's last registration: Redis dropped its index
  if inNamespace == 1 and redis.call('EXISTS', prefix .. 'ns:' .. ns) == 0 then
    redis.call('DECRBY', prefix .. 'bytes', namespaceCost(ns))
  end
end

local function sweep (now, max)
  local ids = redis.call('ZRANGEBYSCORE', prefix .. 'expiry', '-inf', now, 'LIMIT', 0, max)
  for _, id in ipairs(ids) do
    remove(id)
  end
  return #ids
end

-- sets the key to expire at 'at' (ms) unless it already expires later
local function extendExpiry (key, at)
  local current = redis.call('PEXPIRETIME', key)
  if current < 0 or current < at then
    redis.call('PEXPIREAT', key, string.format('%d', at))
  end
end
`

/**
 * KEYS: seq, all, expiry, ns:<ns>, peer:<peer>, reg:<id>, bytes, cost
 * ARGV: prefix, id, peer, ns, record, expiresAt, now, maxRegistrationsPerPeer,
 * maxRegistrations, sweep batch, sequence floor, key TTL grace, cost,
 * maxStoreBytes, host ('' for none), maxRegistrationsPerHost
 * Returns { 0, sequence } or { 1 } (peer cap) or { 2 } (store full) or
 * { 3 } (byte budget) or { 4 } (host cap)
 */
const PUT_SCRIPT = `${LUA_COMMON}
local id, now = ARGV[2], ARGV[7]
local expiresAt = tonumber(ARGV[6])
local cost, maxBytes = tonumber(ARGV[13]), tonumber(ARGV[14])
-- the host it counts against: a refresh keeps the one it was first counted
-- against, a new registration takes the one it came from
local host = ARGV[15]

-- expired registrations must not count against the caps
sweep(now, tonumber(ARGV[10]))

local used = tonumber(redis.call('GET', KEYS[7]) or '0')
-- what this write adds to the bytes held: a refresh, only its growth
local added = cost
local refresh = redis.call('ZSCORE', KEYS[3], id)

-- a refresh of a registration still held is always allowed, unless it grows
-- past the byte budget
if refresh then
  added = cost - tonumber(redis.call('HGET', KEYS[8], id) or '0')
  if added > 0 and used + added > maxBytes then
    return { 3 }
  end
  host = redis.call('HGET', prefix .. 'host-of', id) or ''
else
  local maxPerPeer = tonumber(ARGV[8])
  if redis.call('ZCARD', KEYS[5]) >= maxPerPeer then
    -- the batch above may not have reached this peer's expired ones
    for _, old in ipairs(redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now)) do
      remove(old)
    end
    if redis.call('ZCARD', KEYS[5]) >= maxPerPeer then
      return { 1 }
    end
  end
  if redis.call('ZCARD', KEYS[2]) >= tonumber(ARGV[9]) then
    return { 2 }
  end
  if host ~= '' then
    local hostKey = prefix .. 'host:' .. host
    local maxPerHost = tonumber(ARGV[16])
    if redis.call('ZCARD', hostKey) >= maxPerHost then
      -- the batch above may not have reached this host's expired ones
      for _, old in ipairs(redis.call('ZRANGEBYSCORE', hostKey, '-inf', now)) do
        remove(old)
      end
      if redis.call('ZCARD', hostKey) >= maxPerHost then
        return { 4 }
      end
    end
  end
  used = tonumber(redis.call('GET', KEYS[7]) or '0')
  if redis.call('EXISTS', KEYS[4]) == 0 then
    added = added + namespaceCost(ARGV[4])
  end
  if used + added > maxBytes then
    return { 3 }
  end
end

-- unique and increasing across every point sharing the store; never below
-- the clock in µs, so a Redis that lost its data does not hand out sequences
-- that cookies issued before already passed
local sequence = redis.call('INCR', KEYS[1])
if sequence < tonumber(ARGV[11]) then
  redis.call('SET', KEYS[1], ARGV[11])
  sequence = ARGV[11]
else
  sequence = string.format('%d', sequence)
end

local keyExpiry = expiresAt + tonumber(ARGV[12])
redis.call('HSET', KEYS[6], 'peer', ARGV[3], 'ns', ARGV[4], 'record', ARGV[5], 'expiresAt', ARGV[6], 'sequence', sequence)
redis.call('PEXPIREAT', KEYS[6], string.format('%d', keyExpiry))
redis.call('ZADD', KEYS[2], sequence, id)
redis.call('ZADD', KEYS[4], sequence, id)
redis.call('ZADD', KEYS[3], ARGV[6], id)
redis.call('ZADD', KEYS[5], ARGV[6], id)
redis.call('HSET', KEYS[8], id, ARGV[13])
redis.call('INCRBY', KEYS[7], string.format('%d', added))
extendExpiry(KEYS[5], keyExpiry)
if host ~= '' then
  if not refresh then
    redis.call('HSET', prefix .. 'host-of', id, host)
    redis.call('ZINCRBY', prefix .. 'hosts', 1, host)
  end
  redis.call('ZADD', prefix .. 'host:' .. host, ARGV[6], id)
  extendExpiry(prefix .. 'host:' .. host, keyExpiry)
end

return { 0, sequence }
`

/**
 * KEYS: all, expiry, ns:<ns>, peer:<peer>, reg:<id>
 * ARGV: prefix, id
 */
const DELETE_SCRIPT = `${LUA_COMMON}
remove(ARGV[2])
return 0
`

/**
 * KEYS: the index, all or ns:<ns>
 * ARGV: prefix, after, limit, now, most expired entries skipped
 * Returns { cursor, id, record, expiresAt, sequence, id, ... }
 *
 * Expiry times come from one ZMSCORE per batch and the sequence from the
 * index's score, so each registration costs one HGET: the cost is a batch's
 * ZRANGEBYSCORE (log n) plus one call per entry read
 */
const DISCOVER_SCRIPT = `${LUA_COMMON}
local cursor = ARGV[2]
local limit = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
local maxScanned = limit + tonumber(ARGV[5])
local out = { cursor }
local found, scanned = 0, 0

while found < limit and scanned < maxScanned do
  -- batches of at most 500, well within what unpack() takes
  local entries = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. cursor, '+inf', 'WITHSCORES', 'LIMIT', 0, math.min(limit - found, maxScanned - scanned, 500))
  if #entries == 0 then
    break
  end
  local ids = {}
  for i = 1, #entries, 2 do
    ids[#ids + 1] = entries[i]
  end
  local expiries = redis.call('ZMSCORE', prefix .. 'expiry', unpack(ids))
  for i = 1, #ids do
    cursor = entries[2 * i]
    scanned = scanned + 1
    if expiries[i] and tonumber(expiries[i]) > now then
      local record = redis.call('HGET', prefix .. 'reg:' .. ids[i], 'record')
      if record then
        out[#out + 1] = ids[i]
        out[#out + 1] = record
        out[#out + 1] = expiries[i]
        out[#out + 1] = cursor
        found = found + 1
      end
    end
  end
end

out[1] = cursor
return out
`

/**
 * KEYS: peer:<peer id>
 * ARGV: prefix, record, now
 * Returns 1 when a registration of the peer live at `now` holds `record`
 * byte for byte, else 0. It reads the peer's live registrations, at most
 * 1,000 (past that the point verifies the record, as without this script)
 */
const HOLDS_RECORD_SCRIPT = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[3], '+inf', 'LIMIT', 0, 1000)
for i = 1, #ids do
  if redis.call('HGET', ARGV[1] .. 'reg:' .. ids[i], 'record') == ARGV[2] then
    return 1
  end
end
return 0
`

/**
 * KEYS: expiry
 * ARGV: prefix, now, max
 */
const SWEEP_SCRIPT = `${LUA_COMMON}
return sweep(ARGV[2], tonumber(ARGV[3]))
`

interface Script {
  source: string
  sha: string
}

function script (source: string): Script {
  return { source, sha: createHash('sha1').update(source).digest('hex') }
}

const SCRIPTS = {
  put: script(PUT_SCRIPT),
  delete: script(DELETE_SCRIPT),
  discover: script(DISCOVER_SCRIPT),
  holdsRecord: script(HOLDS_RECORD_SCRIPT),
  sweep: script(SWEEP_SCRIPT)
}

/**
 * Keeps registrations in Redis, shared by every rendezvous point that uses
 * the same Redis database and key prefix.
 *
 * Each write is one Lua script, so the caps (`maxRegistrationsPerPeer`,
 * `maxRegistrations`, `maxStoreBytes`) hold across points under concurrent
 * registers, and the
 * sequence a write gets (one shared INCR) is visible only together with the
 * write: a cookie from any point never skips a registration. DISCOVER reads
 * sorted sets keyed by sequence (per namespace and across namespaces) from
 * the cookie on, in O(limit + log n). Expiry uses a sorted set by expiry time,
 * swept in bounded atomic batches by every point, and Redis key TTLs reclaim
 * the data of registrations no point swept.
 *
 * Registrations are as durable as the Redis server is configured to be:
 * enable AOF (`appendonly yes`) for the store to survive a Redis restart.
 */
export class RedisRegistrationStore implements RegistrationStore {
  private readonly log: Logger
  private readonly prefix: string
  private readonly url?: string
  private readonly clientOptions?: RedisClientOptions
  private readonly ownClient: boolean
  private readonly expiryBatchSize: number
  private readonly commandTimeout: number
  private readonly sweepTask: RepeatingTask
  private client?: RedisConnection
  private connecting?: Promise<RedisConnection>

  /**
   * Set by `stop()` until the next `start()`: every call fails, and no
   * client is made
   */
  private stopped = false

  constructor (init: RedisRegistrationStoreInit = {}) {
    this.log = (init.logger ?? defaultLogger()).forComponent('libp2p:rendezvous:server:redis-store')
    this.prefix = init.prefix ?? DEFAULT_PREFIX
    this.ownClient = init.client == null
    this.client = init.client
    this.url = init.url
    this.clientOptions = init.clientOptions
    this.expiryBatchSize = positiveInteger('expiryBatchSize', init.expiryBatchSize ?? DEFAULT_EXPIRY_BATCH_SIZE)
    this.commandTimeout = timerDelay('commandTimeout', init.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT)

    if (init.url != null) {
      checkRedisUrl(init.url)
    }

    this.sweepTask = repeatingTask(async (options) => {
      try {
        // batches, each atomic, other commands running between them
        let removed = this.expiryBatchSize

        while (removed === this.expiryBatchSize && options?.signal?.aborted !== true) {
          removed = await this.removeExpired(Date.now(), this.expiryBatchSize, options)
        }
      } catch (err: any) {
        this.log.error('could not remove expired registrations - %e', err)
      }
    }, timerDelay('expiryInterval', init.expiryInterval ?? DEFAULT_EXPIRY_INTERVAL))
  }

  /**
   * Connects to Redis (when the store made the client) and starts the sweep
   * of expired registrations
   */
  async start (): Promise<void> {
    this.stopped = false
    await this.connect()
    this.sweepTask.start()
  }

  /**
   * Stops the sweep and closes the client the store made. Until it starts
   * again, every call fails with `UnavailableError` and no client is made,
   * so nothing keeps the process alive.
   */
  async stop (): Promise<void> {
    this.stopped = true
    this.sweepTask.stop()
    const connecting = this.connecting
    this.connecting = undefined

    if (this.ownClient && connecting != null) {
      const client = await connecting.catch(() => undefined) as ReturnType<typeof createClient> | undefined
      this.client = undefined

      if (client?.isOpen === true) {
        await client.close()
      }
    }
  }

  async count (): Promise<number> {
    return this.call<number>(['ZCARD', this.key('all')])
  }

  async put (registration: NewRegistration, limits: RegistrationLimits, options?: AbortOptions): Promise<Registration> {
    const now = Date.now()
    const id = registrationId(registration.peerId, registration.namespace)
    const reply = await this.eval<[number, Buffer?]>(SCRIPTS.put, [
      this.key('seq'),
      this.key('all'),
      this.key('expiry'),
      this.key(`ns:${registration.namespace}`),
      this.key(`peer:${registration.peerId}`),
      this.key(`reg:${id}`),
      this.key('bytes'),
      this.key('cost')
    ], [
      id,
      registration.peerId,
      registration.namespace,
      toBuffer(registration.signedPeerRecord),
      integer(registration.expiresAt),
      integer(now),
      cap(limits.maxRegistrationsPerPeer),
      cap(limits.maxRegistrations),
      integer(this.expiryBatchSize),
      // the same floor as MemoryRegistrationStore's: the clock in µs
      integer(now * 1000),
      integer(REDIS_KEY_TTL_GRACE),
      integer(registrationBytes(registration.signedPeerRecord.byteLength)),
      cap(limits.maxStoreBytes),
      registration.host ?? '',
      cap(limits.maxRegistrationsPerHost)
    ], options)

    if (reply[0] !== 0) {
      throw overLimit(PUT_REFUSALS[reply[0]], limits, registration.host)
    }

    return {
      peerId: registration.peerId,
      namespace: registration.namespace,
      signedPeerRecord: registration.signedPeerRecord,
      expiresAt: registration.expiresAt,
      sequence: Number(reply[1]?.toString())
    }
  }

  /**
   * How many hosts hold `maxRegistrationsPerHost` registrations or more, over
   * the whole fleet: one `ZCOUNT`
   */
  async hostsAtLimit (maxRegistrationsPerHost: number): Promise<number> {
    return this.call<number>(['ZCOUNT', this.key('hosts'), cap(maxRegistrationsPerHost), '+inf'])
  }

  /**
   * Whether a live registration of `peerId`, in any namespace, holds
   * `signedPeerRecord` byte for byte: one script, so a REGISTER that re-sends
   * a held record costs a round trip to Redis instead of a signature check
   */
  async holdsRecord (peerId: string, signedPeerRecord: Uint8Array, now: number, options?: AbortOptions): Promise<boolean> {
    const held = await this.eval<number>(SCRIPTS.holdsRecord, [this.key(`peer:${peerId}`)], [toBuffer(signedPeerRecord), integer(now)], options)
    return held === 1
  }

  async delete (peerId: string, namespace: string, options?: AbortOptions): Promise<void> {
    const id = registrationId(peerId, namespace)
    await this.eval(SCRIPTS.delete, [
      this.key('all'),
      this.key('expiry'),
      this.key(`ns:${namespace}`),
      this.key(`peer:${peerId}`),
      this.key(`reg:${id}`)
    ], [id], options)
  }

  async discover (query: DiscoverQuery, options?: AbortOptions): Promise<DiscoverPage> {
    if (query.limit <= 0) {
      return { registrations: [], cursor: query.after }
    }

    const reply = await this.eval<Buffer[]>(SCRIPTS.discover, [
      this.key(query.namespace == null ? 'all' : `ns:${query.namespace}`)
    ], [
      integer(query.after),
      integer(query.limit),
      integer(query.now),
      integer(REDIS_DISCOVER_MAX_SKIPPED)
    ], options)

    const registrations: Registration[] = []

    for (let i = 1; i + 3 < reply.length; i += 4) {
      const { peerId, namespace } = parseRegistrationId(reply[i])
      registrations.push({
        peerId,
        namespace,
        // a copy: reply buffers may share a pooled ArrayBuffer
        signedPeerRecord: new Uint8Array(reply[i + 1]),
        expiresAt: Number(reply[i + 2].toString()),
        sequence: Number(reply[i + 3].toString())
      })
    }

    return { registrations, cursor: Number(reply[0].toString()) }
  }

  /**
   * Removes up to `max` registrations that expired at or before `now`, in one
   * atomic step, and returns how many it removed. Every point sweeps on its
   * own; this is for tests and tools.
   */
  async removeExpired (now: number, max: number, options?: AbortOptions): Promise<number> {
    return this.eval<number>(SCRIPTS.sweep, [this.key('expiry')], [integer(now), integer(max)], options)
  }

  /**
   * The secret every point sharing this store makes its cookies with: read
   * from Redis, or made by the first point that asks (`SET NX`, so points
   * starting together still agree on one). Pass it as `cookieSecret` to
   * `rendezvousServer()`.
   */
  async cookieSecret (length = 32, options?: AbortOptions): Promise<Uint8Array> {
    const key = this.key('cookie-secret')
    await this.call(['SET', key, randomBytes(length), 'NX'], options)
    const secret = await this.call<Buffer | null>(['GET', key], options, BUFFERS)

    if (secret == null || secret.byteLength < 16) {
      throw new InternalError(`the cookie secret at ${key} is missing or shorter than 16 bytes`)
    }

    return new Uint8Array(secret)
  }

  private key (suffix: string): string {
    return `${this.prefix}${suffix}`
  }

  /**
   * Runs a script by its SHA1, loading it first when Redis does not know it
   * (after a restart or a SCRIPT FLUSH)
   */
  private async eval <T> (script: Script, keys: string[], args: RedisArgument[], options?: AbortOptions): Promise<T> {
    const rest = [String(keys.length), ...keys, this.prefix, ...args]

    try {
      return await this.call<T>(['EVALSHA', script.sha, ...rest], options, BUFFERS)
    } catch (err: any) {
      if (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT')) {
        return this.call<T>(['EVAL', script.source, ...rest], options, BUFFERS)
      }

      throw err
    }
  }

  private async call <T> (args: RedisArgument[], options?: AbortOptions, typeMapping?: TypeMapping): Promise<T> {
    const client = await this.connect()

    try {
      return await client.sendCommand<T>(args, { typeMapping, abortSignal: options?.signal, timeout: this.commandTimeout })
    } catch (err: any) {
      if (err instanceof RendezvousError || (err instanceof ErrorReply && err.message.startsWith('NOSCRIPT'))) {
        throw err
      }

      this.log.error('redis %s failed - %e', args[0], err)
      throw new InternalError('the registration store failed')
    }
  }

  private async connect (): Promise<RedisConnection> {
    if (this.stopped) {
      throw new UnavailableError('the registration store is stopped')
    }

    if (this.connecting == null) {
      this.connecting = this.open()
      this.connecting.catch(() => { this.connecting = undefined })
    }

    return this.connecting
  }

  private async open (): Promise<RedisConnection> {
    let client = this.client

    if (client == null || this.ownClient) {
      let connected = false
      const created = createClient({
        url: this.url,
        ...this.clientOptions,
        socket: {
          // at start, fail after a few attempts with the reason; once
          // connected, reconnect for as long as the store runs
          reconnectStrategy: (retries: number, cause: Error) => {
            if (!connected && retries >= INITIAL_CONNECT_ATTEMPTS) {
              return cause
            }

            return Math.min(50 * 2 ** retries, 2000) + Math.floor(Math.random() * 100)
          },
          ...this.clientOptions?.socket
        } as any
      })
      created.on('error', (err: Error) => { this.log.error('redis - %e', err) })
      created.on('ready', () => {
        connected = true
        this.log('connected to redis')
      })
      client = created
      this.client = client
    }

    if (!client.isOpen) {
      try {
        await client.connect()
      } catch (err: any) {
        throw new UnavailableError(`could not connect to redis at ${redactUrl(this.url ?? 'redis://127.0.0.1:6379')}: ${err.message}`)
      }
    }

    // so the first requests find them; not fatal, EVALSHA falls back to EVAL
    const connected = client
    await Promise.all(Object.values(SCRIPTS).map(async script => connected.sendCommand(['SCRIPT', 'LOAD', script.source])))
      .catch((err: Error) => { this.log.error('could not load the scripts - %e', err) })

    return client
  }
}

/**
 * The member that names (peer, namespace) in every index: the peer id's
 * length in UTF-8 bytes first, so no peer id or namespace can make two pairs
 * collide
 */
function registrationId (peerId: string, namespace: string): string {
  return `${Buffer.byteLength(peerId)}:${peerId}:${namespace}`
}

/**
 * The peer id and namespace of an id made by `registrationId()`
 */
function parseRegistrationId (id: Buffer): { peerId: string, namespace: string } {
  const colon = id.indexOf(0x3a)
  const length = Number(id.subarray(0, colon).toString())

  return {
    peerId: id.subarray(colon + 1, colon + 1 + length).toString(),
    namespace: id.subarray(colon + 2 + length).toString()
  }
}

function integer (value: number): string {
  return Math.floor(value).toString()
}

/**
 * A cap as the scripts read it: Lua numbers are doubles, and an unbounded
 * cap is as good as the largest safe integer
 */
function cap (value: number): string {
  return integer(Math.min(value, Number.MAX_SAFE_INTEGER))
}

/**
 * The cap each refusal of the PUT script stands for
 */
const PUT_REFUSALS: Record<number, keyof RegistrationLimits> = {
  1: 'maxRegistrationsPerPeer',
  2: 'maxRegistrations',
  3: 'maxStoreBytes',
  4: 'maxRegistrationsPerHost'
}

function toBuffer (bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/**
 * @packageDocumentation
 *
 * `libp2p-rendezvous/redis`: a registration store on Redis, so several
 * rendezvous points share their registrations and accept each other's
 * cookies. Node.js only; kept out of the package's main entry so Redis never
 * enters a browser bundle.
 *
 * @example Two or more points sharing one Redis
 *
 * ```TypeScript
 * import { rendezvousServer } from 'libp2p-rendezvous'
 * import { RedisRegistrationStore } from 'libp2p-rendezvous/redis'
 *
 * const store = new RedisRegistrationStore({ url: 'redis://10.0.0.5:6379' })
 *
 * rendezvousServer({
 *   store,
 *   // the same for every point, kept in Redis
 *   cookieSecret: await store.cookieSecret()
 * })
 * ```
 */

export { RedisRegistrationStore, REDIS_DISCOVER_MAX_SKIPPED, REDIS_KEY_TTL_GRACE } from './server/redis-store.ts'
export { checkRedisUrl } from './server/redis-url.ts'
export type { RedisRegistrationStoreInit, RedisConnection } from './server/redis-store.ts'

/**
 * @packageDocumentation
 *
 * A registration store on Redis for `libp2p-rendezvous` points, so several
 * rendezvous points share their registrations, their caps and their cookies.
 * Node.js only, and a package of its own, so Redis never enters the installs
 * or the bundles of those who use the library alone.
 *
 * @example Two or more points sharing one Redis
 *
 * ```TypeScript
 * import { rendezvousServer } from 'libp2p-rendezvous'
 * import { RedisRegistrationStore } from 'libp2p-rendezvous-redis'
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

export { RedisRegistrationStore, REDIS_DISCOVER_MAX_SKIPPED, REDIS_KEY_TTL_GRACE } from './redis-store.ts'
export { checkRedisUrl, redactUrl } from './redis-url.ts'
export type { RedisRegistrationStoreInit, RedisConnection } from './redis-store.ts'

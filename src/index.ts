/**
 * @packageDocumentation
 *
 * The libp2p [Rendezvous protocol](https://github.com/libp2p/specs/blob/master/rendezvous/README.md)
 * (`/rendezvous/1.0.0`) for js-libp2p v3.
 *
 * A rendezvous point keeps registrations per namespace; peers register
 * themselves under a namespace with a signed peer record and discover the
 * other peers registered there.
 *
 * @example Running a rendezvous point
 *
 * ```TypeScript
 * import { noise } from '@chainsafe/libp2p-noise'
 * import { yamux } from '@chainsafe/libp2p-yamux'
 * import { tcp } from '@libp2p/tcp'
 * import { createLibp2p } from 'libp2p'
 * import { rendezvousServer } from 'libp2p-rendezvous'
 *
 * const node = await createLibp2p({
 *   addresses: { listen: ['/ip4/0.0.0.0/tcp/4001'] },
 *   transports: [tcp()],
 *   connectionEncrypters: [noise()],
 *   streamMuxers: [yamux()],
 *   services: {
 *     rendezvousServer: rendezvousServer({
 *       minTtl: 60_000,
 *       maxRegistrationsPerPeer: 100
 *     })
 *   }
 * })
 * ```
 */

import { resolveRendezvousInit } from './client/options.ts'
import { RendezvousDiscovery } from './client/rendezvous-discovery.ts'
import { RendezvousServer, resolveServerInit } from './server/rendezvous-server.ts'
import type { Rendezvous, RendezvousComponents, RendezvousInit } from './client/rendezvous-discovery.ts'
import type { RendezvousServerComponents, RendezvousServerInit } from './server/rendezvous-server.ts'

export {
  PROTOCOL, DEFAULT_TTL, DEFAULT_MIN_TTL, DEFAULT_MAX_TTL, DEFAULT_MAX_NAMESPACE_LENGTH, DEFAULT_MAX_REGISTRATIONS_PER_PEER,
  DEFAULT_MAX_REGISTRATIONS, DEFAULT_MAX_STORE_BYTES, DEFAULT_MAX_RECORD_SIZE, DEFAULT_MAX_DISCOVER_LIMIT,
  DEFAULT_MAX_REQUEST_SIZE, DEFAULT_MAX_INBOUND_STREAMS, DEFAULT_MAX_REQUESTS_PER_PEER, DEFAULT_RATE_LIMIT_WINDOW,
  DEFAULT_TIMEOUT, DEFAULT_EXPIRY_INTERVAL, DEFAULT_IPV4_PREFIX_LENGTH, DEFAULT_IPV6_PREFIX_LENGTH
} from './constants.ts'
export * from './errors.ts'
export { Message } from './pb/rendezvous.ts'
export { MemoryRegistrationStore } from './server/memory-store.ts'
export { DatastoreRegistrationStore } from './server/datastore-store.ts'
export type { DatastoreRegistrationStoreInit, DatastoreRegistrationStoreComponents } from './server/datastore-store.ts'
export type { MemoryRegistrationStoreInit } from './server/memory-store.ts'
export { registrationBytes, namespaceBytes, overLimit } from './server/registration-store.ts'
export type { LimitRefusal } from './server/registration-store.ts'
export type { Registration, HeldRegistration, NewRegistration, RegistrationLimits, DiscoverQuery, DiscoverPage, RegistrationStore } from './server/registration-store.ts'
export type { RendezvousServer, RendezvousServerComponents, RendezvousServerInit }
export type { Rendezvous, RendezvousComponents, RendezvousInit }
export type { RegisterOptions, DiscoverOptions, DiscoveredPeer, RendezvousPointInit, PeerFilter, RecordFormat } from './client/rendezvous-discovery.ts'
export type { PeerRecordFormat, SignatureVerifier } from './signed-peer-record.ts'
export { verifyWithKey } from './signed-peer-record.ts'
export { positiveInteger, timerDelay } from './options.ts'

/**
 * Creates the rendezvous discovery component, to be placed in the
 * `peerDiscovery` list of a libp2p node, or in its `services` to also reach
 * its API as `node.services.rendezvous`. Throws `InvalidOptionError` naming
 * the first bad option.
 */
export function rendezvous (init: RendezvousInit): (components: RendezvousComponents) => Rendezvous {
  resolveRendezvousInit(init)
  return (components) => new RendezvousDiscovery(components, init)
}

/**
 * Creates a rendezvous point service, to be placed in the `services` of a
 * libp2p node. Throws `InvalidOptionError` naming the first bad option.
 */
export function rendezvousServer (init: RendezvousServerInit = {}): (components: RendezvousServerComponents) => RendezvousServer {
  resolveServerInit(init)
  return (components) => new RendezvousServer(components, init)
}

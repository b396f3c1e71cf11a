/**
 * The libp2p node the command runs: transports, encryption, multiplexing,
 * connection limits and the services every connection meets. The rendezvous
 * service goes on top (bin.ts); the benchmarks run the same node with a
 * trivial protocol instead, as the floor a rendezvous point's costs sit on.
 */

import { yamux } from '@chainsafe/libp2p-yamux'
import { prometheusMetrics } from '@libp2p/prometheus-metrics'
import { webSockets } from '@libp2p/websockets'
import { linearConnectionList } from './connection-list.ts'
import { corkedTcp } from './corked-tcp.ts'
import { commandLogger } from './logger.ts'
import { memoryRelease } from './memory-release.ts'
import { pointNoiseCrypto } from './noise-crypto.ts'
import { identifyWithOwnAddresses, ownAddresses } from './own-addresses.ts'
import { pointPeerStore } from './peer-store.ts'
import { pointNoise } from './point-noise.ts'
import { signingKey } from './signing-key.ts'
import type { CommandOptions } from './flags.ts'
import type { OwnAddresses } from './own-addresses.ts'
import type { PointPeerStore } from './peer-store.ts'
import type { Identify } from '@libp2p/identify'
import type { PrivateKey, ServiceMap } from '@libp2p/interface'
import type { Libp2pOptions, ServiceFactoryMap } from 'libp2p'

/**
 * What the node takes from the command's options
 */
export type PointNodeInit = Pick<CommandOptions, 'listen' | 'announce' | 'maxConnections' | 'inboundConnectionThreshold' | 'maxIncomingPendingConnections' | 'allow' | 'metricsPort'> & Partial<Pick<CommandOptions, 'keepMemory'>>

/**
 * The services of every point node
 */
export interface PointNodeServices extends Record<string, unknown> {
  ownAddresses: OwnAddresses
  identify: Identify
  pointPeerStore: PointPeerStore
}

/**
 * The options of the command's libp2p node, with `services` beside its own
 */
export function pointNodeOptions <T extends ServiceMap> (init: PointNodeInit, privateKey: PrivateKey, services: ServiceFactoryMap<T>): Libp2pOptions<T & PointNodeServices> {
  return {
    privateKey: signingKey(privateKey),
    addresses: { listen: init.listen, announce: init.announce },
    transports: [corkedTcp(), webSockets()],
    connectionEncrypters: [pointNoise({ crypto: pointNoiseCrypto })],
    // no pings of its own, every 30 s and at the start of each connection:
    // clients that keep a connection idle ping it (js-libp2p and go-libp2p
    // do by default), and one that stays silent for two minutes is closed
    // (@libp2p/tcp's inactivity timeout), as rust-libp2p closes idle ones
    streamMuxers: [yamux({ enableKeepAlive: false })],
    connectionManager: {
      maxConnections: init.maxConnections,
      inboundConnectionThreshold: init.inboundConnectionThreshold,
      maxIncomingPendingConnections: init.maxIncomingPendingConnections,
      allow: init.allow
    },
    // it pings every connection on a stream of its own every 10 s: a point's
    // whole CPU at some 20,000 connections. The clients' own pings keep idle
    // connections open; a peer gone without a word is dropped by
    // @libp2p/tcp's two-minute inactivity timeout, or pruned when the point
    // is full; over WebSockets only the latter.
    connectionMonitor: { enabled: false },
    logger: commandLogger(),
    metrics: init.metricsPort == null ? undefined : prometheusMetrics(),
    services: {
      ...services,
      // before identify, which it gives the point's addresses worked out
      // once until they change
      ownAddresses: ownAddresses(),
      // clients identify the point, which answers; the point asks a client
      // only when it must know its agent version (the rendezvous service
      // does, for a client that asks for records before it registers one):
      // identifying every client that connects cost a sixth of a new client
      identify: identifyWithOwnAddresses({ runOnConnectionOpen: false }),
      pointPeerStore: pointPeerStore(),
      connectionList: linearConnectionList(),
      ...(init.keepMemory === true ? {} : { memoryRelease: memoryRelease() })
    } as ServiceFactoryMap<T & PointNodeServices>
  }
}

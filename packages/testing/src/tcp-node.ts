import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Libp2p, ServiceMap } from '@libp2p/interface'
import type { Libp2pOptions } from 'libp2p'

/**
 * A libp2p v3 node over TCP on 127.0.0.1 with noise and yamux, for the
 * Node.js-only tests that talk to other processes
 */
export async function createTcpNode <T extends ServiceMap = ServiceMap> (options: Partial<Libp2pOptions<T>> = {}): Promise<Libp2p<T>> {
  return createLibp2p<T>({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...options
  })
}

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import type { Libp2p, ServiceMap } from '@libp2p/interface'
import type { TCPSocketOptions } from '@libp2p/tcp'
import type { Libp2pOptions } from 'libp2p'

/**
 * A libp2p v3 node over TCP with noise and yamux, for the Node.js-only tests
 * that talk to other processes. It listens on, and dials from, `host`: a
 * loopback address (127.0.0.1 by default; 127.0.0.2 and up make other hosts
 * on the same machine).
 */
export async function createTcpNode <T extends ServiceMap = ServiceMap> (options: Partial<Libp2pOptions<T>> = {}, host = '127.0.0.1'): Promise<Libp2p<T>> {
  // @libp2p/tcp hands these to net.connect(), whose localAddress picks the
  // source address, although its type leaves it out
  const dialOpts: TCPSocketOptions & { localAddress: string } = { localAddress: host }

  return createLibp2p<T>({
    addresses: { listen: [`/ip4/${host}/tcp/0`] },
    transports: [tcp({ dialOpts })],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    ...options
  })
}

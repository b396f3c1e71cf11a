import { noise } from '@chainsafe/libp2p-noise'
import { encryptOncePerTurn } from './noise-turns.ts'
import { readLengthsQuietly } from './quiet-noise.ts'
import type { NoiseComponents, NoiseExtensions, NoiseInit } from '@chainsafe/libp2p-noise'
import type { ConnectionEncrypter, MessageStream, SecuredConnection } from '@libp2p/interface'

/**
 * A change made to a connection noise has secured, given the connection
 * noise runs on
 */
export type SecuredConnectionChange = (secured: SecuredConnection<any>, connection: MessageStream) => void

/**
 * `@chainsafe/libp2p-noise` as the point runs it: each connection it
 * secures, inbound or outbound, reads its frame lengths without an exception
 * (`quiet-noise.ts`) and encrypts what a turn of the event loop writes to it
 * as one message (`noise-turns.ts`). The benchmarks' echo floor passes fewer
 * `changes`, to measure what each buys.
 */
export function pointNoise (init?: NoiseInit, changes: SecuredConnectionChange[] = [readLengthsQuietly, encryptOncePerTurn]): (components: NoiseComponents) => ConnectionEncrypter<NoiseExtensions> {
  const factory = noise(init)

  return (components) => {
    const encrypter = factory(components)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)

    encrypter.secureInbound = async (connection, options) => changed(await secureInbound(connection, options), connection)
    encrypter.secureOutbound = async (connection, options) => changed(await secureOutbound(connection, options), connection)

    return encrypter
  }

  function changed <T extends SecuredConnection<any>> (secured: T, connection: MessageStream): T {
    for (const change of changes) {
      change(secured, connection)
    }

    return secured
  }
}

import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * A new Ed25519 identity
 */
export async function newPrivateKey (): Promise<PrivateKey> {
  return generateKeyPair('Ed25519')
}

/**
 * The signed peer record envelope of a peer with the given addresses, signed
 * in the standard domain unless another one is given
 */
export async function signedPeerRecord (privateKey: PrivateKey, multiaddrs: Array<string | Multiaddr>, domain?: string): Promise<Uint8Array<ArrayBuffer>> {
  const record = new PeerRecord({
    peerId: peerIdFromPrivateKey(privateKey),
    multiaddrs: multiaddrs.map(ma => multiaddr(ma))
  })

  if (domain != null) {
    record.domain = domain
  }

  const envelope = await RecordEnvelope.seal(record, privateKey)

  return envelope.marshal() as Uint8Array<ArrayBuffer>
}

import { createPublicKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { KeyObject } from 'node:crypto'

/**
 * noise's own Node.js crypto with its X25519 keys kept as OpenSSL key
 * objects. noise's exports each new key pair to DER and imports both keys
 * again for each of a handshake's three exchanges, its static key (the same
 * for every connection) and the remote's ephemeral key (used twice)
 * included: half a handshake's X25519 time. Here a key pair this module
 * made is remembered by its private key's bytes, and a remote key by the
 * bytes noise hands over for both exchanges; anything else is left to
 * noise's own code.
 */
export const pointNoiseCrypto: ICryptoInterface = {
  ...defaultCrypto,

  generateX25519KeyPair () {
    const pair = generateKeyPairSync('x25519')
    const { d, x } = pair.privateKey.export({ format: 'jwk' })
    const privateKey = Buffer.from(d ?? '', 'base64url')
    ownKeys.set(privateKey, pair.privateKey)
    return { publicKey: Buffer.from(x ?? '', 'base64url'), privateKey }
  },

  generateX25519SharedKey (privateKey, publicKey) {
    const own = ownKeys.get(privateKey)

    if (own == null) {
      return defaultCrypto.generateX25519SharedKey(privateKey, publicKey)
    }

    return diffieHellman({ privateKey: own, publicKey: remoteKey(publicKey) })
  }
}

/** the bytes noise passes for a key, a `Uint8Array` or a `Uint8ArrayList` */
type KeyBytes = Parameters<ICryptoInterface['generateX25519SharedKey']>[0]

/** the private keys of the pairs made here, by the bytes handed out for them */
const ownKeys = new WeakMap<KeyBytes, KeyObject>()
/** remote public keys imported, by the bytes noise passes, for its second exchange */
const remoteKeys = new WeakMap<KeyBytes, KeyObject>()

function remoteKey (bytes: KeyBytes): KeyObject {
  let key = remoteKeys.get(bytes)

  if (key == null) {
    const raw = bytes.subarray()
    // importing from a JWK is faster than from DER, encoding included
    key = createPublicKey({
      format: 'jwk',
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url') }
    })
    remoteKeys.set(bytes, key)
  }

  return key
}

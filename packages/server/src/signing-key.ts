import { createPrivateKey, sign } from 'node:crypto'
import type { Ed25519PrivateKey, PrivateKey } from '@libp2p/interface'
import type { KeyObject } from 'node:crypto'

/**
 * The point's Ed25519 key, signing as `@libp2p/crypto` does but with the key
 * imported into OpenSSL once rather than for every signature, and with the
 * last signature kept: noise signs the same message, the point's static
 * noise key, for every connection, and Ed25519 signatures are deterministic.
 * Any other kind of key is returned as it is.
 */
export function signingKey (key: PrivateKey): PrivateKey {
  return key.type === 'Ed25519' ? new SigningKey(key) : key
}

class SigningKey implements Ed25519PrivateKey {
  readonly type = 'Ed25519'
  readonly raw: Uint8Array
  readonly publicKey: Ed25519PrivateKey['publicKey']
  private readonly key: Ed25519PrivateKey
  private readonly keyObject: KeyObject
  private last?: { message: Uint8Array, signature: Uint8Array }

  constructor (key: Ed25519PrivateKey) {
    this.key = key
    this.raw = key.raw
    this.publicKey = key.publicKey
    // the raw key is the 32-byte seed followed by the public key
    this.keyObject = createPrivateKey({
      format: 'jwk',
      key: {
        kty: 'OKP',
        crv: 'Ed25519',
        d: Buffer.from(key.raw.subarray(0, 32)).toString('base64url'),
        x: Buffer.from(key.publicKey.raw).toString('base64url')
      }
    })
  }

  equals (key?: any): boolean {
    return this.key.equals(key)
  }

  sign (data: Parameters<Ed25519PrivateKey['sign']>[0]): Uint8Array {
    const message = data instanceof Uint8Array ? data : data.subarray()

    if (this.last != null && Buffer.compare(this.last.message, message) === 0) {
      return this.last.signature
    }

    const signature = sign(null, message, this.keyObject)
    this.last = { message: Uint8Array.from(message), signature }
    return signature
  }
}

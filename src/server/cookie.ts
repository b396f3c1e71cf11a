import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'

const VERSION = 1
const SEQUENCE_LENGTH = 8
const MAC_LENGTH = 16

/**
 * Bytes in a cookie: version, sequence, MAC
 */
export const COOKIE_LENGTH = 1 + SEQUENCE_LENGTH + MAC_LENGTH

/**
 * Issues and checks DISCOVER cookies.
 *
 * A cookie is `version (1) | sequence (8, big-endian) | MAC (16)`, where the
 * MAC is a truncated HMAC-SHA256 under the point's secret over the version,
 * the sequence and the namespace. The point keeps nothing per cookie; a forged
 * cookie, or one issued for another namespace, fails the MAC; and any point
 * that shares the secret and the store accepts it, also after a restart.
 */
export class CookieCodec {
  /**
   * HMAC keyed once: each MAC clones it instead of hashing the key again
   */
  private readonly keyed: ReturnType<typeof hmac.create>

  constructor (secret: Uint8Array) {
    this.keyed = hmac.create(sha256, secret)
  }

  /**
   * A cookie to resume after `sequence` in `namespace` (`''` for all)
   */
  encode (namespace: string, sequence: number): Uint8Array<ArrayBuffer> {
    const cookie = new Uint8Array(COOKIE_LENGTH)
    cookie[0] = VERSION
    new DataView(cookie.buffer).setBigUint64(1, BigInt(sequence))
    cookie.set(this.mac(cookie.subarray(0, 1 + SEQUENCE_LENGTH), namespace), 1 + SEQUENCE_LENGTH)

    return cookie
  }

  /**
   * The sequence in a cookie issued for `namespace`, or `undefined` when the
   * cookie is malformed, forged or from another namespace
   */
  decode (namespace: string, cookie: Uint8Array): number | undefined {
    if (cookie.byteLength !== COOKIE_LENGTH || cookie[0] !== VERSION) {
      return undefined
    }

    const expected = this.mac(cookie.subarray(0, 1 + SEQUENCE_LENGTH), namespace)

    if (!constantTimeEquals(expected, cookie.subarray(1 + SEQUENCE_LENGTH))) {
      return undefined
    }

    const sequence = new DataView(cookie.buffer, cookie.byteOffset, cookie.byteLength).getBigUint64(1)

    if (sequence > BigInt(Number.MAX_SAFE_INTEGER)) {
      return undefined
    }

    return Number(sequence)
  }

  private mac (header: Uint8Array, namespace: string): Uint8Array {
    return this.keyed.clone()
      .update(header)
      .update(uint8ArrayFromString(namespace))
      .digest()
      .subarray(0, MAC_LENGTH)
  }
}

function constantTimeEquals (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) {
    return false
  }

  let difference = 0

  for (let i = 0; i < a.byteLength; i++) {
    difference |= a[i] ^ b[i]
  }

  return difference === 0
}

import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'

/**
 * The first character of a cookie's text: the layout's version
 */
const VERSION = '1'
const SEQUENCE_LENGTH = 8
const MAC_LENGTH = 16

/**
 * Bytes in a cookie: the sequence, then as text the version and the MAC in
 * unpadded base64url (22 characters for 16 bytes)
 */
export const COOKIE_LENGTH = SEQUENCE_LENGTH + VERSION.length + Math.ceil(MAC_LENGTH * 4 / 3)

/**
 * Issues and checks DISCOVER cookies.
 *
 * A cookie is `sequence (8 bytes, big-endian) | version | MAC`, where the
 * version is the character `1` and the MAC, in unpadded base64url, is a
 * truncated HMAC-SHA256 under the point's secret over the version, the
 * sequence and the namespace. The point keeps nothing per cookie; a forged
 * cookie, or one issued for another namespace, fails the MAC; and any point
 * that shares the secret and the store accepts it, also after a restart.
 *
 * The layout is the one rust-libp2p's client parses every cookie into (and
 * fails the whole DISCOVER response on when it cannot): 8 bytes, then at
 * most 255 bytes of UTF-8. It only parses the text, never compares it with
 * the namespace asked, so the MAC can travel there.
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
    return this.cookieFor(namespace, BigInt(sequence))
  }

  /**
   * The sequence in a cookie issued for `namespace`, or `undefined` when the
   * cookie is malformed, forged or from another namespace
   */
  decode (namespace: string, cookie: Uint8Array): number | undefined {
    if (cookie.byteLength !== COOKIE_LENGTH) {
      return undefined
    }

    const sequence = new DataView(cookie.buffer, cookie.byteOffset, cookie.byteLength).getBigUint64(0)

    // the cookie this point would issue for that sequence, byte for byte
    if (!constantTimeEquals(this.cookieFor(namespace, sequence), cookie)) {
      return undefined
    }

    if (sequence > BigInt(Number.MAX_SAFE_INTEGER)) {
      return undefined
    }

    return Number(sequence)
  }

  private cookieFor (namespace: string, sequence: bigint): Uint8Array<ArrayBuffer> {
    const cookie = new Uint8Array(COOKIE_LENGTH)
    new DataView(cookie.buffer).setBigUint64(0, sequence)

    const mac = this.keyed.clone()
      .update(uint8ArrayFromString(VERSION))
      .update(cookie.subarray(0, SEQUENCE_LENGTH))
      .update(uint8ArrayFromString(namespace))
      .digest()
      .subarray(0, MAC_LENGTH)

    cookie.set(uint8ArrayFromString(VERSION + uint8ArrayToString(mac, 'base64url')), SEQUENCE_LENGTH)

    return cookie
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

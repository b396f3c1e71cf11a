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
 * How many namespaces the codec remembers its latest cookie for
 */
const MAX_REMEMBERED_NAMESPACES = 1024

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

  /**
   * The cookie last issued per namespace. Until a namespace changes, every
   * client polling it is handed, and sends back, the same cookie, and every
   * first page ends at the same registration: a MAC (about 4 µs, a few per
   * cent of a DISCOVER) computed once for them all.
   */
  private readonly latest = new Map<string, { sequence: number, cookie: Uint8Array<ArrayBuffer> }>()

  constructor (secret: Uint8Array) {
    this.keyed = hmac.create(sha256, secret)
  }

  /**
   * A cookie to resume after `sequence` in `namespace` (`''` for all). It
   * may be the instance returned before: callers must not change it.
   */
  encode (namespace: string, sequence: number): Uint8Array<ArrayBuffer> {
    const latest = this.latest.get(namespace)

    if (latest?.sequence === sequence) {
      return latest.cookie
    }

    const cookie = this.cookieFor(namespace, BigInt(sequence))
    this.remember(namespace, sequence, cookie)

    return cookie
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
    const latest = this.latest.get(namespace)
    const expected = latest != null && BigInt(latest.sequence) === sequence ? latest.cookie : this.cookieFor(namespace, sequence)

    // the cookie this point would issue for that sequence, byte for byte
    if (!constantTimeEquals(expected, cookie)) {
      return undefined
    }

    if (sequence > BigInt(Number.MAX_SAFE_INTEGER)) {
      return undefined
    }

    return Number(sequence)
  }

  private remember (namespace: string, sequence: number, cookie: Uint8Array<ArrayBuffer>): void {
    if (this.latest.size >= MAX_REMEMBERED_NAMESPACES && !this.latest.has(namespace)) {
      // the namespace first remembered of those held
      this.latest.delete(this.latest.keys().next().value as string)
    }

    this.latest.set(namespace, { sequence, cookie })
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

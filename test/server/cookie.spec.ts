import { hmac } from '@noble/hashes/hmac.js'
import { sha256 } from '@noble/hashes/sha2.js'
import { expect } from 'aegir/chai'
import sinon from 'sinon'
import { concat as uint8ArrayConcat } from 'uint8arrays/concat'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { COOKIE_LENGTH, CookieCodec } from '../../src/server/cookie.ts'

const SECRET = Uint8Array.from({ length: 32 }, (_, i) => i + 1)
const OTHER_SECRET = Uint8Array.from({ length: 32 }, (_, i) => 255 - i)

const SEQUENCES = [
  0,
  1,
  255,
  256,
  2 ** 32 - 1,
  2 ** 32,
  2 ** 32 + 1,
  1_700_000_000_000_000,
  Number.MAX_SAFE_INTEGER - 1,
  Number.MAX_SAFE_INTEGER
]

/**
 * Builds a cookie with a valid MAC under `secret` for any version and any
 * 64-bit sequence, bypassing the checks `CookieCodec.encode` makes
 */
function forge (secret: Uint8Array, namespace: string, version: string, sequence: bigint): Uint8Array {
  const head = new Uint8Array(8)
  new DataView(head.buffer).setBigUint64(0, sequence)

  const mac = hmac.create(sha256, secret)
    .update(uint8ArrayFromString(version))
    .update(head)
    .update(uint8ArrayFromString(namespace))
    .digest()
    .subarray(0, 16)

  const base64url = btoa(String.fromCharCode(...mac)).replaceAll('+', '-').replaceAll('/', '_').replace(/[=]+$/, '')

  return uint8ArrayConcat([head, uint8ArrayFromString(version + base64url)])
}

/**
 * Whether rust-libp2p's client (`Cookie::from_wire_encoding`) parses a
 * cookie: at least 8 bytes, then nothing or UTF-8 of at most 255 bytes
 */
function rustClientAccepts (cookie: Uint8Array): boolean {
  if (cookie.byteLength < 8 || cookie.byteLength - 8 > 255) {
    return false
  }

  try {
    new TextDecoder('utf-8', { fatal: true }).decode(cookie.subarray(8))
    return true
  } catch {
    return false
  }
}

describe('cookie codec', () => {
  let codec: CookieCodec

  beforeEach(() => {
    codec = new CookieCodec(SECRET)
  })

  it('has a cookie length of 31 bytes', () => {
    expect(COOKIE_LENGTH).to.equal(31)
  })

  it('issues cookies rust-libp2p clients parse: 8 bytes, then UTF-8 of at most 255 bytes', () => {
    for (const namespace of ['', 'a', 'ünïcödé', 'x'.repeat(255)]) {
      for (const sequence of SEQUENCES) {
        expect(rustClientAccepts(codec.encode(namespace, sequence))).to.equal(true, `${namespace} ${sequence}`)
      }
    }

    // the check itself tells the cookies of before apart: 25 bytes whose
    // last 16 are MAC bytes, not UTF-8
    expect(rustClientAccepts(Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 42, 0xc3, 0x28, ...new Uint8Array(14)]))).to.be.false()
  })

  it('encodes cookies of COOKIE_LENGTH bytes', () => {
    for (const sequence of SEQUENCES) {
      expect(codec.encode('ns', sequence)).to.have.lengthOf(COOKIE_LENGTH)
    }
  })

  it('encodes the big-endian sequence, then the version and the MAC as base64url text', () => {
    const cookie = codec.encode('ns', 0x0102030405)

    expect([...cookie.subarray(0, 8)]).to.deep.equal([0, 0, 0, 1, 2, 3, 4, 5])
    expect(new TextDecoder().decode(cookie.subarray(8))).to.match(/^1[A-Za-z0-9_-]{22}$/)
  })

  it('matches a cookie built independently', () => {
    expect(codec.encode('ns', 42)).to.deep.equal(forge(SECRET, 'ns', '1', 42n))
  })

  it('round-trips sequences', () => {
    for (const namespace of ['', 'a', 'waku/2/rs/0/0', 'ünïcödé']) {
      for (const sequence of SEQUENCES) {
        expect(codec.decode(namespace, codec.encode(namespace, sequence))).to.equal(sequence, `${namespace} ${sequence}`)
      }
    }
  })

  it('encodes deterministically and distinctly', () => {
    expect(codec.encode('ns', 7)).to.deep.equal(codec.encode('ns', 7))
    expect(codec.encode('ns', 7)).to.not.deep.equal(codec.encode('ns', 8))
    expect(codec.encode('ns', 7)).to.not.deep.equal(codec.encode('nt', 7))
  })

  it('is accepted by another codec that shares the secret', () => {
    const cookie = codec.encode('ns', 1234)

    expect(new CookieCodec(Uint8Array.from(SECRET)).decode('ns', cookie)).to.equal(1234)
  })

  it('decodes a cookie that is a view into a larger buffer', () => {
    const cookie = codec.encode('ns', 987654321)
    const buffer = new Uint8Array(COOKIE_LENGTH + 13)
    buffer.set(cookie, 7)

    expect(codec.decode('ns', buffer.subarray(7, 7 + COOKIE_LENGTH))).to.equal(987654321)
  })

  it('rejects a cookie for another namespace', () => {
    const cookie = codec.encode('ns', 100)

    expect(codec.decode('other', cookie)).to.be.undefined()
    expect(codec.decode('NS', cookie)).to.be.undefined()
    expect(codec.decode('ns ', cookie)).to.be.undefined()
    expect(codec.decode('', cookie)).to.be.undefined()
  })

  it('tells the discover-all namespace from a namespace', () => {
    const all = codec.encode('', 100)
    const a = codec.encode('a', 100)

    expect(all).to.not.deep.equal(a)
    expect(codec.decode('', all)).to.equal(100)
    expect(codec.decode('a', all)).to.be.undefined()
    expect(codec.decode('a', a)).to.equal(100)
    expect(codec.decode('', a)).to.be.undefined()
  })

  it('rejects a cookie issued under another secret', () => {
    const other = new CookieCodec(OTHER_SECRET)

    for (const sequence of SEQUENCES) {
      expect(codec.decode('ns', other.encode('ns', sequence))).to.be.undefined()
      expect(other.decode('ns', codec.encode('ns', sequence))).to.be.undefined()
    }
  })

  it('rejects a cookie with any single bit flipped', () => {
    for (const sequence of [0, 12345, Number.MAX_SAFE_INTEGER]) {
      const cookie = codec.encode('ns', sequence)

      for (let bit = 0; bit < COOKIE_LENGTH * 8; bit++) {
        const tampered = Uint8Array.from(cookie)
        tampered[bit >>> 3] ^= 1 << (bit & 7)

        expect(codec.decode('ns', tampered)).to.be.undefined(`sequence ${sequence}, bit ${bit}`)
      }

      // the original is untouched and still valid
      expect(codec.decode('ns', cookie)).to.equal(sequence)
    }
  })

  it('rejects a cookie of the wrong length', () => {
    const cookie = codec.encode('ns', 5)

    expect(codec.decode('ns', new Uint8Array(0))).to.be.undefined()
    expect(codec.decode('ns', cookie.subarray(0, COOKIE_LENGTH - 1))).to.be.undefined()
    expect(codec.decode('ns', cookie.subarray(0, 8))).to.be.undefined()

    const longer = new Uint8Array(COOKIE_LENGTH + 1)
    longer.set(cookie)
    expect(codec.decode('ns', longer)).to.be.undefined()
  })

  it('rejects an unknown version even with a valid MAC', () => {
    // sanity check: the forger produces cookies the codec accepts
    expect(codec.decode('ns', forge(SECRET, 'ns', '1', 5n))).to.equal(5)

    for (const version of ['0', '2', 'v']) {
      expect(codec.decode('ns', forge(SECRET, 'ns', version, 5n))).to.be.undefined(`version ${version}`)
    }
  })

  it('rejects a sequence beyond Number.MAX_SAFE_INTEGER even with a valid MAC', () => {
    const max = BigInt(Number.MAX_SAFE_INTEGER)

    expect(codec.decode('ns', forge(SECRET, 'ns', '1', max))).to.equal(Number.MAX_SAFE_INTEGER)
    expect(codec.decode('ns', forge(SECRET, 'ns', '1', max + 1n))).to.be.undefined()
    expect(codec.decode('ns', forge(SECRET, 'ns', '1', 2n ** 64n - 1n))).to.be.undefined()
  })

  it('computes the MAC once for the latest cookie of a namespace, issued and sent back', () => {
    const macs = sinon.spy(codec as any, 'cookieFor')

    const cookie = codec.encode('ns', 7)
    expect(codec.encode('ns', 7)).to.equalBytes(cookie)
    expect(codec.decode('ns', cookie)).to.equal(7)
    expect(macs.callCount).to.equal(1)

    // the namespace moves on: an older cookie is checked in full, and still valid
    const next = codec.encode('ns', 8)
    expect(next).to.not.equalBytes(cookie)
    expect(codec.decode('ns', cookie)).to.equal(7)
    expect(codec.decode('ns', next)).to.equal(8)
    expect(macs.callCount).to.equal(3)

    // the latest cookie of one namespace is no cookie of another
    expect(codec.decode('other', next)).to.be.undefined()
  })

  it('remembers the latest cookie of at most 1024 namespaces', () => {
    const issued = Array.from({ length: 1500 }, (_, index) => codec.encode(`ns-${index}`, index))

    expect((codec as any).latest.size).to.equal(1024)
    issued.forEach((cookie, index) => {
      expect(codec.decode(`ns-${index}`, cookie)).to.equal(index)
    })

    // the first ones were forgotten: their MAC is computed again
    const macs = sinon.spy(codec as any, 'cookieFor')
    expect(codec.encode('ns-0', 0)).to.equalBytes(issued[0])
    expect(codec.encode('ns-1499', 1499)).to.equalBytes(issued[1499])
    expect(macs.callCount).to.equal(1)
  })
})

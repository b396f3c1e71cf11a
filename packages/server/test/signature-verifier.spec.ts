import { generateKeyPair, publicKeyFromRaw } from '@libp2p/crypto/keys'
import { expect } from 'aegir/chai'
import { verifyWithKey } from 'libp2p-rendezvous'
import { pointSignatureVerifier } from '../src/signature-verifier.ts'
import type { PublicKey } from '@libp2p/interface'
import type { SignatureVerifier } from 'libp2p-rendezvous'

/** the order of Ed25519's base point */
const L = (1n << 252n) + 27742317777372353535851937790883648493n

function littleEndian (value: bigint): Uint8Array {
  const bytes = new Uint8Array(32)

  for (let i = 0; i < 32; i++) {
    bytes[i] = Number(value & 0xffn)
    value >>= 8n
  }

  return bytes
}

function fromLittleEndian (bytes: Uint8Array): bigint {
  return bytes.reduceRight((value, byte) => (value << 8n) | BigInt(byte), 0n)
}

describe('the point\'s signature verifier', () => {
  let verifySignature: SignatureVerifier

  before(async () => {
    const verifier = await pointSignatureVerifier()
    expect(verifier.error).to.be.undefined()
    expect(verifier.name).to.equal('libsodium')
    verifySignature = verifier.verifySignature
  })

  /**
   * Whether each verifier accepts a signature, the point's and
   * `@libp2p/crypto`'s: a throw is a refusal, as the point answers both
   */
  async function both (publicKey: PublicKey, data: Uint8Array, signature: Uint8Array): Promise<[boolean, boolean]> {
    const accepts = async (verify: SignatureVerifier): Promise<boolean> => {
      try {
        return await verify(publicKey, data, signature)
      } catch {
        return false
      }
    }

    return [await accepts(verifySignature), await accepts(verifyWithKey)]
  }

  it('agrees with @libp2p/crypto on Ed25519 signatures: valid, over other data, and with any one bit changed', async () => {
    for (let i = 0; i < 8; i++) {
      const key = await generateKeyPair('Ed25519')
      const data = crypto.getRandomValues(new Uint8Array(64 + i * 50))
      const signature = await key.sign(data)

      expect(await both(key.publicKey, data, signature)).to.deep.equal([true, true])

      const other = Uint8Array.from(data)
      other[i] ^= 1
      expect(await both(key.publicKey, other, signature)).to.deep.equal([false, false])

      for (const bit of [0, 255, 256, 500, 511]) {
        const changed = Uint8Array.from(signature)
        changed[bit >> 3] ^= 1 << (bit & 7)
        expect(await both(key.publicKey, data, changed)).to.deep.equal([false, false])
      }

      expect(await both((await generateKeyPair('Ed25519')).publicKey, data, signature)).to.deep.equal([false, false])
    }
  })

  it('refuses what @libp2p/crypto refuses: a long or short signature, a non-canonical one, a key of small order', async () => {
    const key = await generateKeyPair('Ed25519')
    const data = new TextEncoder().encode('a peer record')
    const signature = await key.sign(data)

    // libsodium alone would read the first 64 bytes
    const long = new Uint8Array(65)
    long.set(signature)
    expect(await both(key.publicKey, data, long)).to.deep.equal([false, false])

    expect(await both(key.publicKey, data, signature.subarray(0, 63))).to.deep.equal([false, false])

    // the same signature with L added to its scalar S
    const nonCanonical = Uint8Array.from(signature)
    nonCanonical.set(littleEndian(fromLittleEndian(signature.subarray(32)) + L), 32)
    expect(await both(key.publicKey, data, nonCanonical)).to.deep.equal([false, false])

    // the neutral point as the key, and as R with S = 0: the equation holds
    // for any data
    const neutral = new Uint8Array(32)
    neutral[0] = 1
    const forged = new Uint8Array(64)
    forged[0] = 1
    expect(await both(publicKeyFromRaw(neutral), data, forged)).to.deep.equal([false, false])
  })

  it('checks other keys through the key\'s own verify', async () => {
    const key = await generateKeyPair('secp256k1')
    const data = new TextEncoder().encode('a peer record')
    const signature = await key.sign(data)

    expect(await both(key.publicKey, data, signature)).to.deep.equal([true, true])

    const changed = Uint8Array.from(signature)
    changed[10] ^= 1
    expect(await both(key.publicKey, data, changed)).to.deep.equal([false, false])
  })

  it('falls back to @libp2p/crypto, saying why, where libsodium does not load', async () => {
    const verifier = await pointSignatureVerifier(async () => { throw new Error('no prebuilt binding for this platform') })

    expect(verifier.name).to.equal('@libp2p/crypto')
    expect(verifier.error?.message).to.equal('no prebuilt binding for this platform')
    expect(verifier.verifySignature).to.equal(verifyWithKey)
  })
})

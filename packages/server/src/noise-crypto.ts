import { createCipheriv, createDecipheriv, createPublicKey, createSecretKey, diffieHellman, generateKeyPairSync } from 'node:crypto'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { KeyObject } from 'node:crypto'

/**
 * noise's own Node.js crypto with its keys kept as OpenSSL key objects.
 *
 * X25519: noise's exports each new key pair to DER and imports both keys
 * again for each of a handshake's three exchanges, its static key (the same
 * for every connection) and the remote's ephemeral key (used twice)
 * included: half a handshake's X25519 time. Here a key pair this module
 * made is remembered by its private key's bytes, and a remote key by the
 * bytes noise hands over for both exchanges; anything else is left to
 * noise's own code.
 *
 * ChaCha20-Poly1305: noise encrypts messages under 1200 bytes in
 * WebAssembly and longer ones with OpenSSL, importing the session's key for
 * every message: 17 µs of the 25 a 1500-byte message costs. Here a session
 * key is imported once, by the bytes noise keeps for it, and OpenSSL takes
 * every message from 768 bytes, where it overtakes the WebAssembly (a
 * DISCOVER response of 100 records, 33 KB: 77 µs to 52 to encrypt).
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
  },

  chaCha20Poly1305Encrypt (plaintext, nonce, ad, k) {
    if (plaintext.byteLength < OPENSSL_FROM) {
      return defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k)
    }

    const cipher = createCipheriv(CHACHA20_POLY1305, sessionKey(k), nonce, { authTagLength: TAG_LENGTH })
    cipher.setAAD(ad, { plaintextLength: plaintext.byteLength })
    const chunks = plaintext instanceof Uint8Array ? [plaintext] : [...plaintext]
    const output = chunks.map(chunk => cipher.update(chunk))
    output.push(cipher.final(), cipher.getAuthTag())
    return Buffer.concat(output, plaintext.byteLength + TAG_LENGTH)
  },

  chaCha20Poly1305Decrypt (ciphertext, nonce, ad, k, dst) {
    if (ciphertext.byteLength < OPENSSL_FROM + TAG_LENGTH) {
      return defaultCrypto.chaCha20Poly1305Decrypt(ciphertext, nonce, ad, k, dst)
    }

    const end = ciphertext.byteLength - TAG_LENGTH
    const decipher = createDecipheriv(CHACHA20_POLY1305, sessionKey(k), nonce, { authTagLength: TAG_LENGTH })
    decipher.setAAD(ad, { plaintextLength: end })
    decipher.setAuthTag(ciphertext.subarray(end))
    const text = ciphertext instanceof Uint8Array ? [ciphertext.subarray(0, end)] : [...ciphertext.sublist(0, end)]
    const output = text.map(chunk => decipher.update(chunk))
    // throws when the tag does not match
    output.push(decipher.final())
    return Buffer.concat(output, end)
  }
}

const CHACHA20_POLY1305 = 'chacha20-poly1305'
const TAG_LENGTH = 16
/** the message length from which OpenSSL is faster than noise's WebAssembly */
const OPENSSL_FROM = 768

/** session keys, by the bytes noise keeps for each */
const sessionKeys = new WeakMap<Uint8Array, KeyObject>()

function sessionKey (k: Uint8Array): KeyObject {
  let key = sessionKeys.get(k)

  if (key == null) {
    key = createSecretKey(k)
    sessionKeys.set(k, key)
  }

  return key
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

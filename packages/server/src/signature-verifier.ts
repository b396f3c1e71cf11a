/**
 * The point's check of the signed peer records it has not seen before:
 * Ed25519 signatures through libsodium, at a third of the CPU of OpenSSL's
 * (which `@libp2p/crypto` uses, importing the key for every call). A fresh
 * record's verification was most of a fresh REGISTER's cost.
 *
 * libsodium accepts no signature that OpenSSL rejects: both check the same
 * equation, and libsodium also refuses keys and signature points of small
 * order and non-canonical encodings, which no honest signer produces.
 * Where libsodium cannot load (a platform without a prebuilt binding), the
 * point verifies through `@libp2p/crypto` as before.
 */

import { verifyWithKey } from 'libp2p-rendezvous'
import type { SignatureVerifier } from 'libp2p-rendezvous'

const ED25519_PUBLIC_KEY_LENGTH = 32
const ED25519_SIGNATURE_LENGTH = 64

/**
 * What the command needs of sodium-native, which ships no types
 */
interface Sodium {
  crypto_sign_verify_detached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
}

/**
 * A verifier of Ed25519 signatures through `sodium`, of other keys through
 * the key's own `verify`
 */
export function sodiumVerifier (sodium: Sodium): SignatureVerifier {
  return (publicKey, data, signature, options) => {
    if (publicKey.type !== 'Ed25519') {
      return verifyWithKey(publicKey, data, signature, options)
    }

    // libsodium reads the first 64 bytes of a longer signature; OpenSSL
    // refuses it, and so does the point
    return signature.byteLength === ED25519_SIGNATURE_LENGTH &&
      publicKey.raw.byteLength === ED25519_PUBLIC_KEY_LENGTH &&
      sodium.crypto_sign_verify_detached(signature, data, publicKey.raw)
  }
}

/**
 * The verifier the command runs with, and which one it is: libsodium's
 * where its binding loads, else `@libp2p/crypto`'s
 */
export async function pointSignatureVerifier (load: () => Promise<Sodium> = loadSodium): Promise<{ verifySignature: SignatureVerifier, name: string, error?: Error }> {
  try {
    return { verifySignature: sodiumVerifier(await load()), name: 'libsodium' }
  } catch (err: any) {
    return { verifySignature: verifyWithKey, name: '@libp2p/crypto', error: err }
  }
}

async function loadSodium (): Promise<Sodium> {
  // @ts-expect-error sodium-native ships no type declarations
  const module = await import('sodium-native')
  return module.default
}

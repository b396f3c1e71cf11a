import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { randomBytes } from '@libp2p/crypto'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { Key } from 'interface-datastore'
import type { PrivateKey } from '@libp2p/interface'
import type { Datastore } from 'interface-datastore'

const IDENTITY_KEY = new Key('/rendezvous/identity')
const COOKIE_SECRET_KEY = new Key('/rendezvous/cookie-secret')

/**
 * The point's key, created on first run and kept in the data directory, so
 * its peer id never changes: clients have it in their configuration
 */
export async function loadIdentity (datastore: Datastore): Promise<PrivateKey> {
  if (await datastore.has(IDENTITY_KEY)) {
    return privateKeyFromProtobuf(await datastore.get(IDENTITY_KEY))
  }

  const privateKey = await generateKeyPair('Ed25519')
  await datastore.put(IDENTITY_KEY, privateKeyToProtobuf(privateKey))

  return privateKey
}

/**
 * The point's key from a file of its own (a protobuf-encoded private key, as
 * libp2p's `privateKeyToProtobuf` writes it), for operators who keep secrets
 * apart from data. A missing file is created with a new key, readable by its
 * owner only.
 */
export async function loadKeyFile (path: string, warn: (message: string) => void): Promise<PrivateKey> {
  let bytes: Uint8Array

  try {
    bytes = await readFile(path)
  } catch (err: any) {
    if (err.code !== 'ENOENT') {
      throw new Error(`cannot read the key file ${path}: ${err.message}`)
    }

    const privateKey = await generateKeyPair('Ed25519')
    await mkdir(dirname(path), { recursive: true })
    // 'wx': never overwrite a key another process wrote meanwhile
    await writeFile(path, privateKeyToProtobuf(privateKey), { mode: 0o600, flag: 'wx' })
    // the mode given to writeFile is masked by the umask; this one is not
    await chmod(path, 0o600)

    return privateKey
  }

  if (((await stat(path)).mode & 0o077) !== 0) {
    warn(`the key file ${path} can be read by others than its owner: chmod 600 it`)
  }

  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err: any) {
    throw new Error(`the key file ${path} does not hold a protobuf-encoded private key: ${err.message}`)
  }
}

/**
 * The cookie secret, created on first run and kept, so cookies outlive
 * restarts
 */
export async function loadCookieSecret (datastore: Datastore): Promise<Uint8Array> {
  if (await datastore.has(COOKIE_SECRET_KEY)) {
    return datastore.get(COOKIE_SECRET_KEY)
  }

  const secret = randomBytes(32)
  await datastore.put(COOKIE_SECRET_KEY, secret)

  return secret
}

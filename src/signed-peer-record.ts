import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import * as varint from 'uint8-varint'
import { concat as uint8ArrayConcat } from 'uint8arrays/concat'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { InvalidSignedPeerRecordError } from './errors.ts'
import { EnvelopeHeader } from './pb/envelope.ts'
import type { AbortOptions, PeerId, PrivateKey, PublicKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * How a peer record is signed:
 *
 * - `'standard'`: the libp2p specification's (RFC 0003), envelope domain
 * `libp2p-peer-record`, payload type `0x0301`: js-libp2p, go-libp2p,
 * nim-libp2p
 * - `'legacy'`: rust-libp2p's, envelope domain `libp2p-routing-state`,
 * payload type the UTF-8 bytes of `/libp2p/routing-state-record`. Its
 * rendezvous client and point sign and accept only this one.
 *
 * The payload, the peer record protobuf, is the same in both.
 */
export type PeerRecordFormat = 'standard' | 'legacy'

/**
 * The envelope domain of rust-libp2p's peer records
 */
export const LEGACY_PEER_RECORD_DOMAIN = 'libp2p-routing-state'

/**
 * The envelope payload type of rust-libp2p's peer records
 */
export const LEGACY_PEER_RECORD_PAYLOAD_TYPE = uint8ArrayFromString('/libp2p/routing-state-record')

/**
 * Checks that `signature` is `publicKey`'s over `data`. Resolves to `false`
 * for a signature that does not match; may throw for one that is malformed.
 */
export interface SignatureVerifier {
  (publicKey: PublicKey, data: Uint8Array, signature: Uint8Array, options?: AbortOptions): boolean | Promise<boolean>
}

/**
 * The key's own check, through `@libp2p/crypto`
 */
export const verifyWithKey: SignatureVerifier = async (publicKey, data, signature, options) => publicKey.verify(data, signature, options)

export interface OpenSignedPeerRecordOptions extends AbortOptions {
  /**
   * What checks the envelope's signature
   *
   * @default verifyWithKey
   */
  verifySignature?: SignatureVerifier
}

/**
 * What an envelope's signature covers (RFC 0002): the domain, the payload
 * type and the payload, each after its length as an unsigned varint
 */
function signedBytes (domain: Uint8Array, payloadType: Uint8Array, payload: Uint8Array): Uint8Array {
  return uint8ArrayConcat([
    varint.encode(domain.byteLength), domain,
    varint.encode(payloadType.byteLength), payloadType,
    varint.encode(payload.byteLength), payload
  ])
}

const DOMAINS: Record<PeerRecordFormat, Uint8Array> = {
  standard: uint8ArrayFromString(PeerRecord.DOMAIN),
  legacy: uint8ArrayFromString(LEGACY_PEER_RECORD_DOMAIN)
}

/**
 * A signed peer record that opened and passed every check
 */
export interface OpenedPeerRecord {
  record: PeerRecord
  format: PeerRecordFormat
}

/**
 * The format an envelope's payload type names, or `undefined` when it is not
 * a peer record of either format
 */
function formatOfPayloadType (payloadType: Uint8Array): PeerRecordFormat | undefined {
  if (uint8ArrayEquals(payloadType, PeerRecord.CODEC)) {
    return 'standard'
  }

  if (uint8ArrayEquals(payloadType, LEGACY_PEER_RECORD_PAYLOAD_TYPE)) {
    return 'legacy'
  }

  return undefined
}

/**
 * The format of a signed peer record envelope, read from its payload type
 * alone, without checking the signature: for records that were opened and
 * checked when they were registered. `undefined` when it is not a peer record.
 */
export function peerRecordFormat (signedPeerRecord: Uint8Array): PeerRecordFormat | undefined {
  try {
    return formatOfPayloadType(EnvelopeHeader.decode(signedPeerRecord).payloadType)
  } catch {
    return undefined
  }
}

/**
 * Opens a signed peer record envelope in either format and checks everything
 * a rendezvous registration needs: the signature in the domain of the format
 * its payload type names, a record whose peer id is the signing key's, and at
 * least one address. Throws `InvalidSignedPeerRecordError` saying which check
 * failed.
 */
export async function openSignedPeerRecord (signedPeerRecord: Uint8Array, options: OpenSignedPeerRecordOptions = {}): Promise<OpenedPeerRecord> {
  let envelope: RecordEnvelope

  try {
    envelope = RecordEnvelope.createFromProtobuf(signedPeerRecord)
  } catch (err: any) {
    throw new InvalidSignedPeerRecordError(`signed peer record does not open: ${err.message}`)
  }

  const format = formatOfPayloadType(envelope.payloadType)

  if (format == null) {
    throw new InvalidSignedPeerRecordError('envelope payload is not a peer record')
  }

  let valid: boolean

  try {
    const verify = options.verifySignature ?? verifyWithKey
    valid = await verify(envelope.publicKey, signedBytes(DOMAINS[format], envelope.payloadType, envelope.payload), envelope.signature, options)
  } catch (err: any) {
    throw new InvalidSignedPeerRecordError(`signed peer record does not open: ${err.message}`)
  }

  if (!valid) {
    throw new InvalidSignedPeerRecordError(`signed peer record does not open: its signature is not valid in the ${format} format's domain`)
  }

  let record: PeerRecord

  try {
    record = PeerRecord.createFromProtobuf(envelope.payload)
  } catch (err: any) {
    throw new InvalidSignedPeerRecordError(`peer record does not decode: ${err.message}`)
  }

  if (!record.peerId.equals(peerIdFromPublicKey(envelope.publicKey))) {
    throw new InvalidSignedPeerRecordError('peer record was signed by another peer')
  }

  if (record.multiaddrs.length === 0) {
    throw new InvalidSignedPeerRecordError('peer record has no addresses')
  }

  return { record, format }
}

export interface SealPeerRecordOptions extends AbortOptions {
  /**
   * @default 'standard'
   */
  format?: PeerRecordFormat

  /**
   * @default the clock in ms, as js-libp2p's own records
   */
  seqNumber?: bigint
}

/**
 * Signs a peer record of `peerId` with `multiaddrs` in the given format and
 * returns the marshaled envelope
 */
export async function sealPeerRecord (privateKey: PrivateKey, peerId: PeerId, multiaddrs: Multiaddr[], options: SealPeerRecordOptions = {}): Promise<Uint8Array<ArrayBuffer>> {
  const record = new PeerRecord({ peerId, multiaddrs, seqNumber: options.seqNumber })

  if (options.format === 'legacy') {
    record.domain = LEGACY_PEER_RECORD_DOMAIN
    record.codec = LEGACY_PEER_RECORD_PAYLOAD_TYPE
  }

  const envelope = await RecordEnvelope.seal(record, privateKey, options)

  return envelope.marshal() as Uint8Array<ArrayBuffer>
}

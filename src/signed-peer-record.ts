import { peerIdFromPublicKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { InvalidSignedPeerRecordError } from './errors.ts'
import type { AbortOptions } from '@libp2p/interface'

/**
 * Opens a signed peer record envelope and checks everything a rendezvous
 * registration needs: the `libp2p-peer-record` domain signature, the peer
 * record payload type, a record whose peer id is the signing key's, and at
 * least one address. Throws `InvalidSignedPeerRecordError` saying which check
 * failed.
 */
export async function openSignedPeerRecord (signedPeerRecord: Uint8Array, options?: AbortOptions): Promise<PeerRecord> {
  let envelope: RecordEnvelope

  try {
    envelope = await RecordEnvelope.openAndCertify(signedPeerRecord, PeerRecord.DOMAIN, options)
  } catch (err: any) {
    throw new InvalidSignedPeerRecordError(`signed peer record does not open: ${err.message}`)
  }

  if (!uint8ArrayEquals(envelope.payloadType, PeerRecord.CODEC)) {
    throw new InvalidSignedPeerRecordError('envelope payload is not a peer record')
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

  return record
}

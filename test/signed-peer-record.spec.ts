import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { InvalidSignedPeerRecordError } from '../src/errors.ts'
import { LEGACY_PEER_RECORD_DOMAIN, LEGACY_PEER_RECORD_PAYLOAD_TYPE, openSignedPeerRecord, peerRecordFormat, sealPeerRecord } from '../src/signed-peer-record.ts'
import type { SignatureVerifier } from '../src/signed-peer-record.ts'
import type { PrivateKey, PublicKey } from '@libp2p/interface'

describe('signed peer records', () => {
  let privateKey: PrivateKey
  const addresses = [multiaddr('/ip4/127.0.0.1/tcp/4001'), multiaddr('/ip4/127.0.0.1/tcp/4002/ws')]

  beforeEach(async () => {
    privateKey = await generateKeyPair('Ed25519')
  })

  it('seals and opens the standard format, which libp2p-peer-record opens too', async () => {
    const bytes = await sealPeerRecord(privateKey, peerIdFromPrivateKey(privateKey), addresses)
    const opened = await openSignedPeerRecord(bytes)

    expect(opened.format).to.equal('standard')
    expect(opened.record.peerId.equals(peerIdFromPrivateKey(privateKey))).to.be.true()
    expect(opened.record.multiaddrs.map(String)).to.deep.equal(addresses.map(String))
    await expect(RecordEnvelope.openAndCertify(bytes, PeerRecord.DOMAIN)).to.eventually.be.ok()
  })

  it('seals and opens rust-libp2p\'s legacy format: its domain and payload type, the same payload', async () => {
    const bytes = await sealPeerRecord(privateKey, peerIdFromPrivateKey(privateKey), addresses, { format: 'legacy', seqNumber: 7n })
    const opened = await openSignedPeerRecord(bytes)

    expect(opened.format).to.equal('legacy')
    expect(opened.record.seqNumber).to.equal(7n)
    expect(opened.record.multiaddrs.map(String)).to.deep.equal(addresses.map(String))

    const envelope = await RecordEnvelope.openAndCertify(bytes, LEGACY_PEER_RECORD_DOMAIN)
    expect(new TextDecoder().decode(envelope.payloadType)).to.equal('/libp2p/routing-state-record')
    expect(envelope.payloadType).to.equalBytes(LEGACY_PEER_RECORD_PAYLOAD_TYPE)
    // the standard domain does not verify it
    await expect(RecordEnvelope.openAndCertify(bytes, PeerRecord.DOMAIN)).to.eventually.be.rejected()
  })

  it('refuses a record signed in the domain of the other format', async () => {
    for (const [codec, domain] of [[PeerRecord.CODEC, LEGACY_PEER_RECORD_DOMAIN], [LEGACY_PEER_RECORD_PAYLOAD_TYPE, PeerRecord.DOMAIN]] as const) {
      const record = new PeerRecord({ peerId: peerIdFromPrivateKey(privateKey), multiaddrs: addresses })
      record.codec = codec
      record.domain = domain
      const bytes = (await RecordEnvelope.seal(record, privateKey)).marshal()

      await expect(openSignedPeerRecord(bytes)).to.eventually.be.rejected
        .with.property('name', InvalidSignedPeerRecordError.name)
    }
  })

  it('refuses another payload type, a record of another peer, no addresses and garbage', async () => {
    const other = await generateKeyPair('Ed25519')
    const record = new PeerRecord({ peerId: peerIdFromPrivateKey(privateKey), multiaddrs: addresses })
    record.codec = new Uint8Array([0x03, 0x02])
    const wrongType = (await RecordEnvelope.seal(record, privateKey)).marshal()

    const cases: Array<[Uint8Array, string]> = [
      [wrongType, 'not a peer record'],
      [await sealPeerRecord(other, peerIdFromPrivateKey(privateKey), addresses), 'signed by another peer'],
      [await sealPeerRecord(privateKey, peerIdFromPrivateKey(privateKey), [], { format: 'legacy' }), 'no addresses'],
      [new TextEncoder().encode('garbage'), 'does not open']
    ]

    for (const [bytes, text] of cases) {
      const err = await openSignedPeerRecord(bytes).catch(err => err)
      expect(err).to.be.an.instanceOf(InvalidSignedPeerRecordError)
      expect(err.statusText).to.include(text)
    }
  })

  it('checks the signature with the verifier it is given, over the bytes the envelope signs', async () => {
    for (const format of ['standard', 'legacy'] as const) {
      const bytes = await sealPeerRecord(privateKey, peerIdFromPrivateKey(privateKey), addresses, { format })
      const asked: Array<{ publicKey: PublicKey, valid: boolean }> = []
      const verifySignature: SignatureVerifier = async (publicKey, data, signature) => {
        // the key's own check passes only on exactly the bytes it signed
        const valid = await publicKey.verify(data, signature)
        asked.push({ publicKey, valid })
        return valid
      }

      expect((await openSignedPeerRecord(bytes, { verifySignature })).format).to.equal(format)
      expect(asked).to.have.lengthOf(1)
      expect(asked[0].publicKey.equals(privateKey.publicKey)).to.be.true()
      expect(asked[0].valid).to.be.true()
    }

    const bytes = await sealPeerRecord(privateKey, peerIdFromPrivateKey(privateKey), addresses)

    for (const [verifySignature, text] of [
      [() => false, 'its signature is not valid in the standard format\'s domain'],
      [() => { throw new Error('malformed signature') }, 'malformed signature']
    ] as Array<[SignatureVerifier, string]>) {
      const err = await openSignedPeerRecord(bytes, { verifySignature }).catch(err => err)
      expect(err).to.be.an.instanceOf(InvalidSignedPeerRecordError)
      expect(err.statusText).to.include(text)
    }
  })

  it('tells the format of a record from its payload type alone', async () => {
    const peerId = peerIdFromPrivateKey(privateKey)

    expect(peerRecordFormat(await sealPeerRecord(privateKey, peerId, addresses))).to.equal('standard')
    expect(peerRecordFormat(await sealPeerRecord(privateKey, peerId, addresses, { format: 'legacy' }))).to.equal('legacy')

    const record = new PeerRecord({ peerId, multiaddrs: addresses })
    record.codec = new Uint8Array([0x03, 0x02])
    expect(peerRecordFormat((await RecordEnvelope.seal(record, privateKey)).marshal())).to.be.undefined()
    expect(peerRecordFormat(new Uint8Array([0xff, 0xff, 0xff]))).to.be.undefined()
  })
})

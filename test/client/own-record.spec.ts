import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { OwnRecord } from '../../src/client/own-record.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { openSignedPeerRecord } from '../../src/signed-peer-record.ts'
import { newPrivateKey } from '../fixtures/nodes.ts'
import type { OwnRecordComponents } from '../../src/client/own-record.ts'
import type { Multiaddr } from '@multiformats/multiaddr'

describe('own record', () => {
  let addresses: Multiaddr[]
  let components: OwnRecordComponents
  let record: OwnRecord

  beforeEach(async () => {
    const privateKey = await newPrivateKey()
    const peerId = peerIdFromPrivateKey(privateKey)
    addresses = [multiaddr(`/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`)]
    components = { privateKey, peerId, addressManager: { getAddresses: () => addresses } as any }
    record = new OwnRecord(components, defaultLogger().forComponent('test'))
  })

  it('seals the node\'s addresses, without its peer id, in the format asked for', async () => {
    for (const format of ['standard', 'legacy'] as const) {
      const opened = await openSignedPeerRecord(await record.envelope(format))
      expect(opened.format).to.equal(format)
      expect(opened.record.peerId.equals(components.peerId)).to.be.true()
      expect(opened.record.multiaddrs.map(ma => ma.toString())).to.deep.equal(['/ip4/127.0.0.1/tcp/4001'])
    }
  })

  it('seals once per set of addresses, and again when they change', async () => {
    expect(record.changed()).to.be.true()
    const [first, second] = await Promise.all([record.envelope('standard'), record.envelope('standard')])
    expect(second).to.equal(first)
    expect(record.changed()).to.be.false()

    addresses = [...addresses, multiaddr('/ip4/127.0.0.1/tcp/4002')]
    expect(record.changed()).to.be.true()
    const third = await record.envelope('standard')
    expect(third).to.not.equal(first)
    expect((await openSignedPeerRecord(third)).record.multiaddrs).to.have.lengthOf(2)
    expect(record.changed()).to.be.false()
  })

  it('says when the node has no address to announce', () => {
    expect(record.hasAddresses()).to.be.true()
    addresses = []
    expect(record.hasAddresses()).to.be.false()
  })

  it('leaves addresses out so that a REGISTER in the longest namespace stays within 4096 bytes', async () => {
    addresses = Array.from({ length: 120 }, (_, i) => multiaddr(`/dns4/host-${i}.a-rather-long-domain-name.example.com/tcp/4001/ws`))

    for (const format of ['standard', 'legacy'] as const) {
      const envelope = await record.envelope(format)
      const opened = await openSignedPeerRecord(envelope)
      const size = Message.encode({ type: Message.MessageType.REGISTER, register: { ns: 'x'.repeat(255), signedPeerRecord: envelope, ttl: 259_200n } }).byteLength

      expect(size).to.be.at.most(4096)
      expect(opened.record.multiaddrs.length).to.be.greaterThan(10).and.lessThan(addresses.length)
    }
  })
})

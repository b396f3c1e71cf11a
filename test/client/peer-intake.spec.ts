import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { PeerIntake } from '../../src/client/peer-intake.ts'
import { sealPeerRecord } from '../../src/signed-peer-record.ts'
import { createNode, newPrivateKey } from '../fixtures/nodes.ts'
import type { PeerFilter, PeerIntakeInit } from '../../src/client/peer-intake.ts'
import type { PeerRecordFormat } from '../../src/signed-peer-record.ts'
import type { Libp2p, PeerId, PeerInfo } from '@libp2p/interface'

interface Peer {
  id: PeerId
  record(addresses: string[], format?: PeerRecordFormat): Promise<Uint8Array<ArrayBuffer>>
}

async function newPeer (): Promise<Peer> {
  const privateKey = await newPrivateKey()
  const id = peerIdFromPrivateKey(privateKey)

  return {
    id,
    record: async (addresses, format = 'standard') => sealPeerRecord(privateKey, id, addresses.map(a => multiaddr(a)), { format })
  }
}

describe('peer intake', () => {
  let node: Libp2p
  let emitted: PeerInfo[]

  function intake (init: Partial<PeerIntakeInit> = {}): PeerIntake {
    return new PeerIntake((node as any).components, {
      peerFilter: true,
      tagName: 'rendezvous',
      tagValue: 50,
      maxPeers: 100,
      timeout: 5000,
      log: defaultLogger().forComponent('test'),
      emit: (peer) => { emitted.push(peer) },
      ...init
    })
  }

  beforeEach(async () => {
    node = await createNode()
    emitted = []
  })

  afterEach(async () => {
    await node.stop()
  })

  it('emits a peer once, stores its certified addresses and tags it for as long as its registration lasts', async () => {
    const peer = await newPeer()
    const signedPeerRecord = await peer.record(['/memory/somewhere'])
    const taking = intake()

    expect((await taking.consider({ signedPeerRecord, ttl: 60_000 }))?.equals(peer.id)).to.be.true()
    await taking.consider({ signedPeerRecord, ttl: 59_000 })

    expect(emitted).to.have.lengthOf(1)
    expect(emitted[0].multiaddrs.map(ma => ma.toString())).to.deep.equal(['/memory/somewhere'])

    const stored = await node.peerStore.get(peer.id)
    expect(stored.addresses.map(a => [a.multiaddr.toString(), a.isCertified])).to.deep.equal([['/memory/somewhere', true]])
    const tag: any = stored.tags.get('rendezvous')
    expect(tag.value).to.equal(50)
    expect(Number(tag.expiry) - Date.now()).to.be.within(50_000, 60_000)
  })

  it('extends the tag when the peer registers again', async () => {
    const peer = await newPeer()
    const signedPeerRecord = await peer.record(['/memory/somewhere'])
    const taking = intake({ tagName: 'found-here', tagValue: 7 })

    await taking.consider({ signedPeerRecord, ttl: 10_000 })
    await taking.consider({ signedPeerRecord, ttl: 3_600_000 })

    expect(emitted).to.have.lengthOf(1)
    const tag: any = (await node.peerStore.get(peer.id)).tags.get('found-here')
    expect(tag.value).to.equal(7)
    expect(Number(tag.expiry) - Date.now()).to.be.greaterThan(3_000_000)
  })

  it('skips this node\'s own record, and a record that does not verify', async () => {
    const privateKey = (node as any).components.privateKey
    const own = await sealPeerRecord(privateKey, node.peerId, [multiaddr('/memory/me')])
    const taking = intake()

    expect((await taking.consider({ signedPeerRecord: own, ttl: 60_000 }))?.equals(node.peerId)).to.be.true()
    expect(await taking.consider({ signedPeerRecord: new Uint8Array([1, 2, 3]), ttl: 60_000 })).to.be.undefined()

    const forged = await (await newPeer()).record(['/memory/x'])
    forged[forged.length - 1] ^= 1
    expect(await taking.consider({ signedPeerRecord: forged, ttl: 60_000 })).to.be.undefined()
    expect(emitted).to.be.empty()
  })

  it('by default takes only peers with an address this node can dial', async () => {
    const tcpOnly = await newPeer()
    const reachable = await newPeer()
    const taking = intake()

    await taking.consider({ signedPeerRecord: await tcpOnly.record(['/ip4/10.0.0.1/tcp/4001', '/webrtc']), ttl: 60_000 })
    await taking.consider({ signedPeerRecord: await reachable.record(['/ip4/10.0.0.1/tcp/4001', '/memory/reachable']), ttl: 60_000 })

    expect(emitted.map(peer => peer.id.toString())).to.deep.equal([reachable.id.toString()])
    await expect(node.peerStore.get(tcpOnly.id)).to.eventually.be.rejected.with.property('name', 'NotFoundError')
  })

  it('takes every peer with peerFilter false, and asks a filter of the user\'s', async () => {
    const tcpOnly = await newPeer()
    await intake({ peerFilter: false }).consider({ signedPeerRecord: await tcpOnly.record(['/ip4/10.0.0.1/tcp/4001']), ttl: 60_000 })
    expect(emitted).to.have.lengthOf(1)

    const asked: PeerInfo[] = []
    const filter: PeerFilter = async (peer) => {
      asked.push(peer)
      return peer.multiaddrs.some(ma => ma.toString().includes('/tcp/4002'))
    }
    const taking = intake({ peerFilter: filter })
    await taking.consider({ signedPeerRecord: await (await newPeer()).record(['/memory/refused']), ttl: 60_000 })
    await taking.consider({ signedPeerRecord: await (await newPeer()).record(['/ip4/10.0.0.1/tcp/4002']), ttl: 60_000 })

    expect(asked).to.have.lengthOf(2)
    expect(emitted).to.have.lengthOf(2)
    expect(emitted[1].multiaddrs[0].toString()).to.equal('/ip4/10.0.0.1/tcp/4002')
  })

  it('takes a peer whose record is in the legacy format, storing its addresses uncertified', async () => {
    const peer = await newPeer()
    await intake().consider({ signedPeerRecord: await peer.record(['/memory/legacy'], 'legacy'), ttl: 60_000 })

    expect(emitted.map(p => p.id.toString())).to.deep.equal([peer.id.toString()])
    const stored = await node.peerStore.get(peer.id)
    expect(stored.addresses.map(a => [a.multiaddr.toString(), a.isCertified])).to.deep.equal([['/memory/legacy', false]])
    expect(stored.tags.has('rendezvous')).to.be.true()
  })

  it('strips a trailing /p2p/<its own id> from the addresses, as canvas-js signs them', async () => {
    const peer = await newPeer()
    await intake().consider({ signedPeerRecord: await peer.record([`/memory/canvas/p2p/${peer.id}`]), ttl: 60_000 })

    expect(emitted[0].multiaddrs.map(ma => ma.toString())).to.deep.equal(['/memory/canvas'])
  })
})

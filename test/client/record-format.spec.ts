/**
 * The format of the peer record the discovery component registers at each
 * point (`recordFormat`), and discovery of peers registered in rust-libp2p's
 * legacy format
 */
import { pbStream } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import { PROTOCOL } from '../../src/constants.ts'
import { InvalidOptionError, NoResponseError, rendezvous } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { peerRecordFormat, sealPeerRecord } from '../../src/signed-peer-record.ts'
import { findDiscovery, startPoint } from '../fixtures/discovery.ts'
import { createNode, newPrivateKey, openRendezvousStream } from '../fixtures/nodes.ts'
import type { Rendezvous, RendezvousInit } from '../../src/index.ts'
import type { PeerRecordFormat } from '../../src/signed-peer-record.ts'
import type { Libp2p, PeerInfo } from '@libp2p/interface'

const { MessageType, ResponseStatus } = Message

/**
 * A point that takes only one record format, and how it refuses the other
 */
interface FussyPoint {
  node: Libp2p
  /**
   * The format of each REGISTER it received, in order
   */
  received: Array<PeerRecordFormat | undefined>
}

describe('record format of registrations', () => {
  let nodes: Libp2p[]

  /**
   * A point that accepts REGISTERs signed in `accepts` only (none when
   * `undefined`) and refuses the others as rust-libp2p points do (`'eof'`: the stream ends without an
   * answer) or with a status
   */
  async function startFussyPoint (accepts: PeerRecordFormat | undefined, refusal: 'eof' | Message.ResponseStatus): Promise<FussyPoint> {
    const node = await createNode()
    nodes.push(node)
    const received: FussyPoint['received'] = []

    await node.handle(PROTOCOL, async (stream) => {
      const messages = pbStream(stream).pb(Message)
      const request = await messages.read()
      const format = peerRecordFormat(request.register?.signedPeerRecord ?? new Uint8Array())
      received.push(format)

      if (format === accepts) {
        await messages.write({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.OK, statusText: '', ttl: request.register?.ttl } })
      } else if (refusal !== 'eof') {
        await messages.write({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: refusal, statusText: 'refused' } })
      }

      await stream.close()
    })

    return { node, received }
  }

  /**
   * A client connected to its points: a REGISTER sent while the component
   * is still connecting would be followed by the one it sends on connecting
   */
  async function newClient (init: RendezvousInit): Promise<Libp2p<{ rendezvous: Rendezvous }>> {
    const node = await createNode({ services: { rendezvous: rendezvous(init) } })
    nodes.push(node)

    while (node.getConnections().length < init.rendezvousPoints.length) {
      await pEvent(node, 'peer:connect')
    }

    return node as Libp2p<{ rendezvous: Rendezvous }>
  }

  function addressOf (point: { node: Libp2p }): string {
    return point.node.getMultiaddrs()[0].toString()
  }

  beforeEach(() => {
    nodes = []
  })

  afterEach(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
  })

  describe("'auto' (the default)", () => {
    it('signs the standard format, and keeps it at a point that takes it', async () => {
      const point = await startFussyPoint('standard', ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
      const client = await newClient({ rendezvousPoints: [addressOf(point)] })

      expect(await client.services.rendezvous.register('a', { ttl: 60_000 })).to.equal(60_000)
      expect(await client.services.rendezvous.register('b', { ttl: 60_000 })).to.equal(60_000)

      expect(point.received).to.deep.equal(['standard', 'standard'])
    })

    it('retries once in the legacy format at a point that ends the stream without an answer, as rust-libp2p points do, and remembers it', async () => {
      const point = await startFussyPoint('legacy', 'eof')
      const client = await newClient({ rendezvousPoints: [addressOf(point)] })

      expect(await client.services.rendezvous.register('a', { ttl: 7_200_000 })).to.equal(7_200_000)
      expect(point.received).to.deep.equal(['standard', 'legacy'])

      // the point is a legacy one from now on: no standard record first
      expect(await client.services.rendezvous.register('b', { ttl: 7_200_000 })).to.equal(7_200_000)
      expect(point.received).to.deep.equal(['standard', 'legacy', 'legacy'])
    })

    it('retries once in the legacy format at a point that answers E_INVALID_SIGNED_PEER_RECORD', async () => {
      const point = await startFussyPoint('legacy', ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
      const client = await newClient({ rendezvousPoints: [addressOf(point)] })

      expect(await client.services.rendezvous.register('a', { ttl: 60_000 })).to.equal(60_000)
      expect(point.received).to.deep.equal(['standard', 'legacy'])
    })

    it('does not remember a point that refused both formats, and rejects with the retry\'s error', async () => {
      const point = await startFussyPoint(undefined, 'eof')
      const client = await newClient({ rendezvousPoints: [addressOf(point)] })

      for (let attempt = 1; attempt <= 2; attempt++) {
        await expect(client.services.rendezvous.register('a', { ttl: 60_000 })).to.eventually.be.rejected
          .with.property('name', NoResponseError.name)
      }

      expect(point.received).to.deep.equal(['standard', 'legacy', 'standard', 'legacy'])
    })

    it('does not retry when the connection ends with the REGISTER: that says nothing of the record', async () => {
      const point = await startFussyPoint('legacy', 'eof')
      const client = await newClient({ rendezvousPoints: [addressOf(point)] })

      // the point drops the whole connection as it reads the request; a
      // retry would dial it again at once, outside the reconnect backoff
      await point.node.unhandle(PROTOCOL)
      await point.node.handle(PROTOCOL, async (stream, connection) => {
        point.received.push(peerRecordFormat((await pbStream(stream).pb(Message).read()).register?.signedPeerRecord ?? new Uint8Array()))
        connection.abort(new Error('going away'))
      })

      await expect(client.services.rendezvous.register('a', { ttl: 60_000 })).to.eventually.be.rejected()
      expect(point.received).to.deep.equal(['standard'])
    })

    it('does not retry when the point refuses for another reason', async () => {
      const point = await startFussyPoint('legacy', ResponseStatus.E_INVALID_TTL)
      const client = await newClient({ rendezvousPoints: [addressOf(point)] })

      await expect(client.services.rendezvous.register('a', { ttl: 60_000 })).to.eventually.be.rejected
        .with.property('name', 'InvalidTTLError')
      expect(point.received).to.deep.equal(['standard'])
    })
  })

  it("'standard' never signs the legacy format, 'legacy' signs only it", async () => {
    const legacyPoint = await startFussyPoint('legacy', 'eof')
    const standard = await newClient({ rendezvousPoints: [addressOf(legacyPoint)], recordFormat: 'standard' })

    await expect(standard.services.rendezvous.register('a', { ttl: 60_000 })).to.eventually.be.rejected
      .with.property('name', NoResponseError.name)
    expect(legacyPoint.received).to.deep.equal(['standard'])

    const legacy = await newClient({ rendezvousPoints: [addressOf(legacyPoint)], recordFormat: 'legacy' })
    expect(await legacy.services.rendezvous.register('a', { ttl: 60_000 })).to.equal(60_000)
    expect(legacyPoint.received).to.deep.equal(['standard', 'legacy'])
  })

  it('takes a format per point, over the component\'s', async () => {
    const legacyPoint = await startFussyPoint('legacy', 'eof')
    const standardPoint = await startFussyPoint('standard', 'eof')
    const client = await newClient({
      rendezvousPoints: [{ multiaddr: addressOf(legacyPoint), recordFormat: 'legacy' }, addressOf(standardPoint)],
      recordFormat: 'standard'
    })

    expect(await client.services.rendezvous.register('a', { ttl: 60_000 })).to.equal(60_000)
    expect(legacyPoint.received).to.deep.equal(['legacy'])
    expect(standardPoint.received).to.deep.equal(['standard'])
  })

  it('emits a peer registered in the legacy format and puts its addresses in the peer store', async () => {
    const point = await startPoint()
    nodes.push(point.node)

    // a peer registered with a rust-libp2p record
    const privateKey = await newPrivateKey()
    const rust = await createNode({ privateKey })
    nodes.push(rust)
    const stream = await openRendezvousStream(rust, point.node)
    const registered = await stream.request({
      type: MessageType.REGISTER,
      register: { ns: 'ns', signedPeerRecord: await sealPeerRecord(privateKey, rust.peerId, rust.getMultiaddrs(), { format: 'legacy' }) }
    })
    expect(registered.registerResponse?.status).to.equal(ResponseStatus.OK)

    const client = await createNode({ peerDiscovery: [rendezvous({ rendezvousPoints: [point.address], discoverNamespaces: ['ns'], discoverInterval: 50 })] })
    nodes.push(client)
    const event = await pEvent<'peer', CustomEvent<PeerInfo>>(findDiscovery(client), 'peer', { timeout: 10_000 })

    const addresses = rust.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString())
    expect(event.detail.id.equals(rust.peerId)).to.be.true()
    expect(event.detail.multiaddrs.map(String)).to.deep.equal(addresses)

    const peer = await client.peerStore.get(rust.peerId)
    expect(peer.addresses.map(address => address.multiaddr.toString())).to.deep.equal(addresses)
  })

  describe('options', () => {
    const invalid: Array<[Partial<RendezvousInit>, string]> = [
      [{ recordFormat: 'rust' as any }, 'recordFormat'],
      [{ rendezvousPoints: [{ multiaddr: '/ip4/127.0.0.1/tcp/1/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq', recordFormat: 'v2' as any }] }, 'rendezvousPoints'],
      [{ rendezvousPoints: [{ multiaddr: 42 as any }] }, 'rendezvousPoints'],
      [{ rendezvousPoints: [{ multiaddr: '/ip4/127.0.0.1/tcp/1' }] }, 'rendezvousPoints']
    ]

    for (const [init, option] of invalid) {
      it(`rejects an invalid ${option} (${JSON.stringify(init)}) naming it`, () => {
        expect(() => rendezvous({ rendezvousPoints: ['/ip4/127.0.0.1/tcp/1/p2p/12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'], ...init }))
          .to.throw(InvalidOptionError).with.property('option', option)
      })
    }
  })
})

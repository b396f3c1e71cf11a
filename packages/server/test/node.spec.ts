import { EventEmitter } from 'node:events'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { disable, enable } from '@libp2p/logger'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { PROTOCOL, rendezvousServer } from 'libp2p-rendezvous'
import { createTcpNode } from 'libp2p-rendezvous-testing/node'
import { pEvent } from 'p-event'
import sinon from 'sinon'
import { corkWrites } from '../src/corked-tcp.ts'
import { parseFlags } from '../src/flags.ts'
import { commandLogger } from '../src/logger.ts'
import { pointNodeOptions } from '../src/node.ts'
import { signingKey } from '../src/signing-key.ts'
import type { PointNodeServices } from '../src/node.ts'
import type { IdentifyResult, Libp2p, MultiaddrConnection } from '@libp2p/interface'

describe('the command\'s libp2p node', function () {
  this.timeout(30_000)

  let point: Libp2p<PointNodeServices>
  let clients: Libp2p[]

  async function startPoint (): Promise<void> {
    const options = parseFlags(['--memory', '--listen', '/ip4/127.0.0.1/tcp/0'])
    point = await createLibp2p(pointNodeOptions(options, await generateKeyPair('Ed25519'), {
      rendezvousServer: rendezvousServer()
    }))
  }

  async function newClient (): Promise<Libp2p<{ identify: unknown }>> {
    const client = await createTcpNode({ services: { identify: identify() } })
    clients.push(client)
    return client
  }

  /**
   * Connects a client and resolves with what identify told it of the point
   */
  async function identified (client: Libp2p): Promise<IdentifyResult> {
    const result = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(client, 'peer:identify', { filter: event => event.detail.peerId.equals(point.peerId) })
    await client.dial(point.getMultiaddrs()[0])
    return (await result).detail
  }

  beforeEach(async () => {
    clients = []
    await startPoint()
  })

  afterEach(async () => {
    sinon.restore()
    await Promise.all(clients.map(async client => client.stop()))
    await point?.stop()
  })

  describe('its own peer record', () => {
    /**
     * How many records of the point were sealed since `seal` was spied on:
     * the clients seal theirs when the point identifies them
     */
    function sealedByPoint (seal: sinon.SinonSpy): number {
      return seal.getCalls().filter(call => call.args[0].peerId.equals(point.peerId)).length
    }

    it('is sealed once, not for every connection, and identify sends it', async () => {
      const seal = sinon.spy(RecordEnvelope, 'seal')

      for (let i = 0; i < 3; i++) {
        const found = await identified(await newClient())
        expect(found.signedPeerRecord?.addresses.map(ma => ma.toString())).to.deep.equal(point.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()))
      }

      expect(sealedByPoint(seal)).to.equal(0)
    })

    it('is sealed again when the point listens on another address, and only then', async () => {
      const seal = sinon.spy(RecordEnvelope, 'seal')

      // a change to the point's own peer data that leaves its addresses be
      const updated = pEvent(point, 'self:peer:update')
      await point.peerStore.merge(point.peerId, { metadata: { unrelated: Uint8Array.from([1]) } })
      await updated
      expect(sealedByPoint(seal)).to.equal(0)

      const sealed = pEvent(point, 'self:peer:update', { filter: () => sealedByPoint(seal) === 1 })
      await (point as any).components.transportManager.listen([multiaddr('/ip4/127.0.0.1/tcp/0')])
      await sealed

      const envelope = await RecordEnvelope.openAndCertify((await point.peerStore.get(point.peerId)).peerRecordEnvelope ?? new Uint8Array(), PeerRecord.DOMAIN)
      expect(PeerRecord.createFromProtobuf(envelope.payload).multiaddrs.map(ma => ma.toString()).sort()).to.deep.equal(point.getMultiaddrs().map(ma => ma.decapsulateCode(421).toString()).sort()).and.to.have.lengthOf(2)
      expect(sealedByPoint(seal)).to.equal(1)
    })
  })

  it('keeps what identify learned of a client only while it is connected', async () => {
    const client = await newClient()
    const learned = pEvent(point, 'peer:identify')
    await identified(client)
    await learned
    expect(await point.peerStore.has(client.peerId)).to.be.true()

    const gone = pEvent(point, 'peer:disconnect')
    await client.hangUp(point.peerId)
    await gone
    await expect(pollUntil(async () => !(await point.peerStore.has(client.peerId)))).to.eventually.be.true()
  })

  it('writes a client\'s protocol into the peer store once, not for every stream it opens', async () => {
    const client = await newClient()
    const learned = pEvent(point, 'peer:identify')
    await identified(client)
    await learned

    const { datastore } = (point as any).components
    const put = sinon.spy(datastore, 'put')
    const ofClient = (): number => put.getCalls().filter(call => call.args[0].toString().includes(client.peerId.toCID().toString())).length

    for (let i = 0; i < 5; i++) {
      const stream = await client.dialProtocol(point.getMultiaddrs()[0], PROTOCOL)
      await stream.close()
    }

    await pollUntil(async () => (await point.peerStore.get(client.peerId)).protocols.includes(PROTOCOL))
    expect(ofClient()).to.equal(1)
  })

  it('lists its connections, all and by peer', async () => {
    const connected = await Promise.all([newClient(), newClient(), newClient()].map(async client => {
      const node = await client
      await node.dial(point.getMultiaddrs()[0])
      return node
    }))

    await pollUntil(async () => point.getConnections().length === 3)
    expect(point.getConnections().map(connection => connection.remotePeer.toString()).sort()).to.deep.equal(connected.map(node => node.peerId.toString()).sort())
    expect(point.getConnections(connected[1].peerId)).to.have.lengthOf(1)
    expect(point.getConnections(connected[1].peerId)[0].remotePeer.equals(connected[1].peerId)).to.be.true()
  })

  describe('corked writes', () => {
    class FakeSocket extends EventEmitter {
      calls: string[] = []
      cork (): void { this.calls.push('cork') }
      uncork (): void { this.calls.push('uncork') }
    }

    it('corks the socket at the first write of a turn and uncorks it when the turn ends', async () => {
      const socket = new FakeSocket()
      const sent: unknown[] = []
      const connection = {
        socket,
        sendData (data: unknown) {
          socket.calls.push('write')
          sent.push(data)
          return { sentBytes: 1, canSendMore: true }
        }
      }

      corkWrites(connection as unknown as MultiaddrConnection)
      const sendData = (data: unknown): unknown => (connection as any).sendData(data)

      expect(sendData('a')).to.deep.equal({ sentBytes: 1, canSendMore: true })
      sendData('b')
      sendData('c')
      expect(socket.calls).to.deep.equal(['cork', 'write', 'write', 'write'])

      await new Promise(resolve => process.nextTick(resolve))
      expect(socket.calls).to.deep.equal(['cork', 'write', 'write', 'write', 'uncork'])

      sendData('d')
      await new Promise(resolve => process.nextTick(resolve))
      expect(socket.calls.slice(5)).to.deep.equal(['cork', 'write', 'uncork'])
      expect(sent).to.deep.equal(['a', 'b', 'c', 'd'])
    })

    it('leaves a connection without a socket as it is', () => {
      const connection = { sendData: () => ({ sentBytes: 0, canSendMore: true }) }
      const sendData = connection.sendData
      corkWrites(connection as unknown as MultiaddrConnection)
      expect(connection.sendData).to.equal(sendData)
    })
  })

  describe('its signing key', () => {
    it('signs as the key it wraps, once for a message signed twice in a row', async () => {
      const key = await generateKeyPair('Ed25519')
      const wrapped = signingKey(key)
      const message = Uint8Array.from([1, 2, 3])
      const other = Uint8Array.from([4, 5, 6])

      expect(wrapped.type).to.equal('Ed25519')
      expect(wrapped.equals(key)).to.be.true()
      expect(wrapped.publicKey.equals(key.publicKey)).to.be.true()
      expect(await wrapped.sign(message)).to.equalBytes(await key.sign(message))
      expect(await wrapped.sign(other)).to.equalBytes(await key.sign(other))
      expect(await key.publicKey.verify(message, await wrapped.sign(message))).to.be.true()
      // signed once: the very signature it gave last time
      expect(await wrapped.sign(message)).to.equal(await wrapped.sign(message))

      // the message is copied: changing it after signing changes nothing
      const mutable = Uint8Array.from([7, 8, 9])
      const signature = await wrapped.sign(mutable)
      mutable[0] = 0
      expect(await wrapped.sign(mutable)).to.equalBytes(await key.sign(mutable)).and.not.equalBytes(signature)
    })

    it('leaves keys of other types as they are', async () => {
      const key = await generateKeyPair('secp256k1')
      expect(signingKey(key)).to.equal(key)
    })
  })

  describe('its loggers', () => {
    afterEach(() => {
      disable()
    })

    it('are silent and cheap unless DEBUG enables them, scope by scope', () => {
      const silent = commandLogger().forComponent('rendezvous-test:a')
      expect(silent.enabled).to.be.false()
      expect(() => { silent('nothing %s', 'printed'); silent.error('nor this'); silent.trace('nor this') }).to.not.throw()

      enable('rendezvous-test:a:b')
      expect(commandLogger().forComponent('rendezvous-test:a').enabled).to.be.false()
      expect(silent.newScope('b').enabled).to.be.true()
      expect(commandLogger().forComponent('rendezvous-test:other').enabled).to.be.false()
    })
  })
})

/**
 * Resolves with true once `condition` holds, polling every 10 ms for up to 5 s
 */
async function pollUntil (condition: () => Promise<boolean> | boolean): Promise<boolean> {
  const deadline = Date.now() + 5000

  while (Date.now() < deadline) {
    if (await condition()) {
      return true
    }

    await new Promise(resolve => setTimeout(resolve, 10))
  }

  return false
}

import { EventEmitter } from 'node:events'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { disable, enable } from '@libp2p/logger'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { createLibp2p } from 'libp2p'
import { Message, PROTOCOL, rendezvousServer } from 'libp2p-rendezvous'
import { createTcpNode } from 'libp2p-rendezvous-testing/node'
import { pEvent } from 'p-event'
import sinon from 'sinon'
import { Uint8ArrayList } from 'uint8arraylist'
import { corkWrites } from '../src/corked-tcp.ts'
import { parseFlags } from '../src/flags.ts'
import { commandLogger } from '../src/logger.ts'
import { MemoryRelease } from '../src/memory-release.ts'
import { pointNodeOptions } from '../src/node.ts'
import { pointNoiseCrypto } from '../src/noise-crypto.ts'
import { signingKey } from '../src/signing-key.ts'
import { request } from './fixtures/command.ts'
import type { PointNodeServices } from '../src/node.ts'
import type { Connection, IdentifyResult, Libp2p, MultiaddrConnection } from '@libp2p/interface'

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

  it('identifies no client when it connects, and answers the clients\' identify', async () => {
    const client = await newClient()
    const asked = sinon.spy()
    // the client's own identify handler, counting what the point asks
    const handler = (client as any).components.registrar.getHandler('/ipfs/id/1.0.0')
    await client.unhandle('/ipfs/id/1.0.0')
    await client.handle('/ipfs/id/1.0.0', async (stream, connection) => { asked(); await handler.handler(stream, connection) })

    const found = await identified(client)
    expect(found.agentVersion).to.be.a('string')

    // one REGISTER, as a new client sends
    const stream = await client.dialProtocol(point.getMultiaddrs()[0], PROTOCOL)
    await stream.close()
    expect(asked.called).to.be.false()
  })

  it('asks a client its agent version when it asks for records before it registers', async () => {
    const client = await newClient()
    const opened = pEvent<'connection:open', CustomEvent<Connection>>(point, 'connection:open')
    await client.dial(point.getMultiaddrs()[0])
    const newStream = sinon.spy((await opened).detail, 'newStream')

    const response = await request(client, point.getMultiaddrs()[0], { type: Message.MessageType.DISCOVER, discover: { ns: 'ns' } })
    expect(response.discoverResponse?.status).to.equal(Message.ResponseStatus.OK)
    expect(newStream.calledWith('/ipfs/id/1.0.0')).to.be.true()
  })

  it('keeps nothing of a client\'s protocols, and what else is written of it only while it is connected', async () => {
    const client = await newClient()
    await identified(client)

    const { datastore } = (point as any).components
    const put = sinon.spy(datastore, 'put')
    const ofClient = (): number => put.getCalls().filter(call => call.args[0].toString().includes(client.peerId.toCID().toString())).length

    for (let i = 0; i < 5; i++) {
      const stream = await client.dialProtocol(point.getMultiaddrs()[0], PROTOCOL)
      await stream.close()
    }

    expect(ofClient()).to.equal(0)
    expect(await point.peerStore.has(client.peerId)).to.be.false()

    // what identify-push would write
    await point.peerStore.merge(client.peerId, { metadata: { AgentVersion: Uint8Array.from([1]) } })
    expect(await point.peerStore.has(client.peerId)).to.be.true()

    const gone = pEvent(point, 'peer:disconnect')
    await client.hangUp(point.peerId)
    await gone
    await expect(pollUntil(async () => !(await point.peerStore.has(client.peerId)))).to.eventually.be.true()
  })

  it('reads its own peer data once until it changes', async () => {
    const { datastore } = (point as any).components
    const get = sinon.spy(datastore, 'get')
    const ofPoint = (): number => get.getCalls().filter(call => call.args[0].toString().includes(point.peerId.toCID().toString())).length

    for (let i = 0; i < 3; i++) {
      await identified(await newClient())
    }

    expect(ofPoint()).to.be.at.most(1)
    const before = ofPoint()

    const updated = pEvent(point, 'self:peer:update')
    await point.peerStore.merge(point.peerId, { metadata: { changed: Uint8Array.from([1]) } })
    await updated
    const found = await point.peerStore.get(point.peerId)
    expect(found.metadata.get('changed')).to.deep.equal(Uint8Array.from([1]))
    expect(ofPoint()).to.be.greaterThan(before)
  })

  it('hands memory back when it goes quiet, unless told to keep it', async () => {
    expect(point.services).to.have.property('memoryRelease').that.is.an.instanceOf(MemoryRelease)

    const keeping = await createLibp2p(pointNodeOptions(parseFlags(['--memory', '--keep-memory', '--listen', '/ip4/127.0.0.1/tcp/0']), await generateKeyPair('Ed25519'), {}))

    try {
      expect(keeping.services).to.not.have.property('memoryRelease')
    } finally {
      await keeping.stop()
    }
  })

  it('lists its connections, all and by peer, as they open and close', async () => {
    // what the pruner sees, listening from start: the connection that opened
    const seen: number[] = []
    point.addEventListener('connection:open', () => { seen.push(point.getConnections().length) })

    const connected: Libp2p[] = []

    for (let i = 0; i < 3; i++) {
      const node = await newClient()
      const opened = pEvent(point, 'connection:open')
      await node.dial(point.getMultiaddrs()[0])
      await opened
      connected.push(node)
    }

    expect(seen).to.deep.equal([1, 2, 3])
    expect(point.getConnections().map(connection => connection.remotePeer.toString()).sort()).to.deep.equal(connected.map(node => node.peerId.toString()).sort())
    expect(point.getConnections(connected[1].peerId)).to.have.lengthOf(1)
    expect(point.getConnections(connected[1].peerId)[0].remotePeer.equals(connected[1].peerId)).to.be.true()

    // the first one leaves: the others stay listed, whatever their order
    const closed = pEvent(point, 'connection:close')
    await connected[0].hangUp(point.peerId)
    await closed
    expect(point.getConnections().map(connection => connection.remotePeer.toString()).sort()).to.deep.equal(connected.slice(1).map(node => node.peerId.toString()).sort())

    // a copy: what a caller does with it changes nothing
    point.getConnections().length = 0
    expect(point.getConnections()).to.have.lengthOf(2)

    await point.stop()
    expect(point.getConnections()).to.be.empty()
    await point.start()
    const later = await newClient()
    const again = pEvent(point, 'connection:open')
    await later.dial(point.getMultiaddrs()[0])
    await again
    expect(point.getConnections().map(connection => connection.remotePeer.toString())).to.deep.equal([later.peerId.toString()])
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
      const turnEnds = async (): Promise<void> => new Promise(resolve => setImmediate(resolve))

      expect(sendData('a')).to.deep.equal({ sentBytes: 1, canSendMore: true })
      sendData('b')
      expect(socket.calls).to.deep.equal(['cork', 'write', 'write'])

      // what a handler writes after an await, in the same turn: still corked
      await new Promise(resolve => process.nextTick(resolve))
      await Promise.resolve()
      sendData('c')
      expect(socket.calls).to.deep.equal(['cork', 'write', 'write', 'write'])

      await turnEnds()
      expect(socket.calls).to.deep.equal(['cork', 'write', 'write', 'write', 'uncork'])

      sendData('d')
      await turnEnds()
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

  describe('its noise crypto', () => {
    it('agrees with noise\'s own X25519 on every shared key, for keys as noise hands them over', () => {
      const ours = pointNoiseCrypto.generateX25519KeyPair()
      const theirs = defaultCrypto.generateX25519KeyPair()
      expect(ours.publicKey).to.have.lengthOf(32)
      expect(ours.privateKey).to.have.lengthOf(32)

      const expected = defaultCrypto.generateX25519SharedKey(theirs.privateKey, ours.publicKey)
      expect(defaultCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey)).to.equalBytes(expected)
      expect(pointNoiseCrypto.generateX25519SharedKey(ours.privateKey, theirs.publicKey)).to.equalBytes(expected)

      // the remote's key as noise reads it from a message, used twice
      const inMessage = new Uint8ArrayList(Uint8Array.from([9]), theirs.publicKey).sublist(1) as unknown as Parameters<typeof pointNoiseCrypto.generateX25519SharedKey>[1]
      expect(pointNoiseCrypto.generateX25519SharedKey(ours.privateKey, inMessage)).to.equalBytes(expected)
      expect(pointNoiseCrypto.generateX25519SharedKey(ours.privateKey, inMessage)).to.equalBytes(expected)

      // a private key it did not make (a static key from a seed) goes to noise's own code
      const seeded = pointNoiseCrypto.generateX25519KeyPairFromSeed(theirs.privateKey)
      expect(pointNoiseCrypto.generateX25519SharedKey(seeded.privateKey, ours.publicKey)).to.equalBytes(expected)
    })

    it('agrees with noise\'s own ChaCha20-Poly1305 both ways, for messages short and long, whole and in pieces', () => {
      const k = crypto.getRandomValues(new Uint8Array(32))
      const ad = crypto.getRandomValues(new Uint8Array(32))

      for (const [n, length] of [0, 100, 767, 768, 1199, 1500, 33_000, 65_519].entries()) {
        const nonce = new Uint8Array(12)
        nonce[4] = n
        const plaintext = crypto.getRandomValues(new Uint8Array(length))
        const pieces = new Uint8ArrayList(plaintext.subarray(0, length >> 1), plaintext.subarray(length >> 1)) as unknown as Parameters<typeof pointNoiseCrypto.chaCha20Poly1305Encrypt>[0]
        const expected = defaultCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray()

        expect(pointNoiseCrypto.chaCha20Poly1305Encrypt(plaintext, nonce, ad, k).subarray()).to.equalBytes(expected)
        expect(pointNoiseCrypto.chaCha20Poly1305Encrypt(pieces, nonce, ad, k).subarray()).to.equalBytes(expected)

        const inPieces = new Uint8ArrayList(expected.subarray(0, 7), expected.subarray(7)) as unknown as Parameters<typeof pointNoiseCrypto.chaCha20Poly1305Decrypt>[0]
        expect(pointNoiseCrypto.chaCha20Poly1305Decrypt(expected, nonce, ad, k).subarray()).to.equalBytes(plaintext)
        expect(pointNoiseCrypto.chaCha20Poly1305Decrypt(inPieces, nonce, ad, k).subarray()).to.equalBytes(plaintext)
        // the same key in other bytes, as another session holds it
        expect(pointNoiseCrypto.chaCha20Poly1305Decrypt(expected, nonce, ad, Uint8Array.from(k)).subarray()).to.equalBytes(plaintext)

        const forged = Uint8Array.from(expected)
        forged[forged.length - 1] ^= 1
        expect(() => pointNoiseCrypto.chaCha20Poly1305Decrypt(forged, nonce, ad, k)).to.throw()
        expect(() => pointNoiseCrypto.chaCha20Poly1305Decrypt(expected, nonce, ad, crypto.getRandomValues(new Uint8Array(32)))).to.throw()
      }
    })

    it('refuses a remote key that is not one', () => {
      const ours = pointNoiseCrypto.generateX25519KeyPair()
      expect(() => pointNoiseCrypto.generateX25519SharedKey(ours.privateKey, Uint8Array.from([1, 2, 3]))).to.throw()
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

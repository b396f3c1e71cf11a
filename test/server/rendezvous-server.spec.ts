import { identify } from '@libp2p/identify'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import sinon from 'sinon'
import * as varint from 'uint8-varint'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'
import { PROTOCOL } from '../../src/constants.ts'
import { InvalidOptionError, rendezvousServer, verifyWithKey } from '../../src/index.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { namespaceBytes, registrationBytes } from '../../src/server/registration-store.ts'
import { sealPeerRecord } from '../../src/signed-peer-record.ts'
import { createNode, newPrivateKey, openRendezvousStream, signedPeerRecord } from '../fixtures/nodes.ts'
import { closed, collect, frame } from '../hardening/helpers.ts'
import type { RendezvousServer, RendezvousServerInit, SignatureVerifier } from '../../src/index.ts'
import type { RawRendezvousStream } from '../fixtures/nodes.ts'
import type { IdentifyResult, Libp2p, Libp2pEvents, PrivateKey, Stream, TypedEventTarget } from '@libp2p/interface'

const { MessageType, ResponseStatus } = Message

interface Peer {
  node: Libp2p
  privateKey: PrivateKey
  record: Uint8Array<ArrayBuffer>
}

describe('rendezvous server', () => {
  let point: Libp2p<{ rendezvousServer: RendezvousServer }>
  let peers: Peer[]

  async function startPoint (init: RendezvousServerInit = {}): Promise<void> {
    await point?.stop()
    point = await createNode({
      services: {
        rendezvousServer: rendezvousServer(init)
      }
    })
  }

  async function newPeer (): Promise<Peer> {
    const privateKey = await newPrivateKey()
    const node = await createNode({ privateKey })
    const peer = {
      node,
      privateKey,
      record: await signedPeerRecord(privateKey, node.getMultiaddrs())
    }
    peers.push(peer)
    return peer
  }

  async function open (peer: Peer): Promise<RawRendezvousStream> {
    return openRendezvousStream(peer.node, point)
  }

  async function register (peer: Peer, ns: string, fields: Partial<Message.Register> = {}): Promise<Message.RegisterResponse> {
    const stream = await open(peer)
    const response = await stream.request({
      type: MessageType.REGISTER,
      register: { ns, signedPeerRecord: peer.record, ...fields }
    })
    await stream.stream.close()

    expect(response.type).to.equal(MessageType.REGISTER_RESPONSE)
    expect(response.registerResponse).to.be.ok()

    return response.registerResponse as Message.RegisterResponse
  }

  async function discover (peer: Peer, fields: Partial<Message.Discover> = {}): Promise<Message.DiscoverResponse> {
    const stream = await open(peer)
    const response = await stream.request({
      type: MessageType.DISCOVER,
      discover: fields
    })
    await stream.stream.close()

    expect(response.type).to.equal(MessageType.DISCOVER_RESPONSE)
    expect(response.discoverResponse).to.be.ok()

    return response.discoverResponse as Message.DiscoverResponse
  }

  function peerIdsOf (response: Message.DiscoverResponse, in_: Peer[]): number[] {
    return response.registrations.map(registration => in_.findIndex(peer => peer.record.length === registration.signedPeerRecord?.length && peer.record.every((byte, i) => byte === registration.signedPeerRecord?.[i])))
  }

  beforeEach(() => {
    peers = []
  })

  afterEach(async () => {
    sinon.restore()
    await Promise.all(peers.map(async peer => peer.node.stop()))
    await point?.stop()
  })

  describe('register', () => {
    beforeEach(async () => {
      await startPoint()
    })

    it('registers a peer and serves its exact record with the time remaining', async () => {
      const peer = await newPeer()

      const response = await register(peer, 'ns', { ttl: 3600n })
      expect(response).to.deep.equal({ status: ResponseStatus.OK, statusText: '', ttl: 3600n })

      const found = await discover(await newPeer(), { ns: 'ns' })
      expect(found.status).to.equal(ResponseStatus.OK)
      expect(found.cookie).to.have.property('byteLength').that.is.greaterThan(0)
      expect(found.registrations).to.have.lengthOf(1)
      expect(found.registrations[0].ns).to.equal('ns')
      expect(found.registrations[0].signedPeerRecord).to.equalBytes(peer.record)
      expect(Number(found.registrations[0].ttl)).to.be.within(3598, 3600)
    })

    it('answers each REGISTER with the TTL it granted, over many TTLs and back', async () => {
      const peer = await newPeer()
      const stream = await open(peer)
      const ttls = [...Array.from({ length: 70 }, (_, i) => 120n + BigInt(i)), 120n, 7200n, 121n]

      for (const ttl of ttls) {
        const response = await stream.request({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record, ttl } })
        expect(response).to.deep.equal({ type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.OK, statusText: '', ttl } })
      }

      await stream.stream.close()
    })

    it('grants the default ttl of 2 h when none is asked for', async () => {
      const response = await register(await newPeer(), 'ns')
      expect(response.ttl).to.equal(7200n)
    })

    it('writes OK and REGISTER explicitly although they are 0', async () => {
      const peer = await newPeer()
      const stream = await peer.node.dialProtocol(point.getMultiaddrs()[0], PROTOCOL)
      const reply = collect(stream)
      stream.send(frame({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record, ttl: 60n } }))
      await stream.close()
      await reply.done

      // a 10-byte frame: field 1 (type) = 1 (REGISTER_RESPONSE), field 3
      // (registerResponse) { field 1 (status) = 0 (OK), field 2 (statusText)
      // = '', field 3 (ttl) = 60 }
      expect(reply.bytes.subarray()).to.equalBytes(Uint8Array.from([0x0a, 0x08, 0x01, 0x1a, 0x06, 0x08, 0x00, 0x12, 0x00, 0x18, 0x3c]))
    })

    it('refuses an empty or missing namespace with E_INVALID_NAMESPACE', async () => {
      const peer = await newPeer()

      for (const ns of ['', undefined]) {
        const response = await register(peer, ns as any)
        expect(response.status).to.equal(ResponseStatus.E_INVALID_NAMESPACE)
        expect(response.statusText).to.include('missing')
      }
    })

    it('refuses a namespace over 255 UTF-8 bytes with E_INVALID_NAMESPACE', async () => {
      const peer = await newPeer()

      expect((await register(peer, 'a'.repeat(255))).status).to.equal(ResponseStatus.OK)
      expect((await register(peer, 'a'.repeat(256))).status).to.equal(ResponseStatus.E_INVALID_NAMESPACE)
      // 128 characters, 256 bytes
      const response = await register(peer, 'é'.repeat(128))
      expect(response.status).to.equal(ResponseStatus.E_INVALID_NAMESPACE)
      expect(response.statusText).to.include('255 bytes')
    })

    it('grants the TTL nearest 2 h to a REGISTER without one when [minTtl, maxTtl] leaves 2 h out', async () => {
      for (const [init, granted] of [[{ maxTtl: 3_600_000 }, 3600n], [{ minTtl: 10_800_000 }, 10_800n], [{}, 7200n]] as const) {
        await startPoint(init)
        const peer = await newPeer()
        expect((await register(peer, 'ns')).ttl).to.equal(granted)
      }
    })

    it('refuses a ttl outside [minTtl, maxTtl] with E_INVALID_TTL', async () => {
      const peer = await newPeer()

      expect((await register(peer, 'ns', { ttl: 59n })).status).to.equal(ResponseStatus.E_INVALID_TTL)
      expect((await register(peer, 'ns', { ttl: 72n * 3600n + 1n })).status).to.equal(ResponseStatus.E_INVALID_TTL)
      expect((await register(peer, 'ns', { ttl: 2n ** 64n - 1n })).status).to.equal(ResponseStatus.E_INVALID_TTL)

      const response = await register(peer, 'ns', { ttl: 1n })
      expect(response.status).to.equal(ResponseStatus.E_INVALID_TTL)
      expect(response.statusText).to.equal('ttl must be between 60 and 259200 seconds')

      expect((await register(peer, 'ns', { ttl: 60n })).ttl).to.equal(60n)
      expect((await register(peer, 'ns', { ttl: 72n * 3600n })).ttl).to.equal(72n * 3600n)
    })

    it('refuses records that do not open as signed peer records with E_INVALID_SIGNED_PEER_RECORD', async () => {
      const peer = await newPeer()
      const tampered = peer.record.slice()
      tampered[tampered.length - 1] ^= 0xff

      const cases: Array<[Uint8Array<ArrayBuffer> | undefined, string]> = [
        [undefined, 'does not open'],
        [uint8ArrayFromString('not a record'), 'does not open'],
        [tampered, 'does not open'],
        [await signedPeerRecord(peer.privateKey, peer.node.getMultiaddrs(), 'libp2p-routing-state'), 'does not open'],
        [await signedPeerRecord(peer.privateKey, []), 'no addresses']
      ]

      for (const [record, text] of cases) {
        const response = await register(peer, 'ns', { signedPeerRecord: record })
        expect(response.status).to.equal(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
        expect(response.statusText).to.include(text)
      }

      expect((await discover(peer, { ns: 'ns' })).registrations).to.be.empty()
    })

    it('accepts a record in rust-libp2p\'s legacy format and serves its bytes verbatim', async () => {
      const peer = await newPeer()
      const legacy = await sealPeerRecord(peer.privateKey, peer.node.peerId, peer.node.getMultiaddrs(), { format: 'legacy' })

      const response = await register(peer, 'ns', { signedPeerRecord: legacy, ttl: 120n })
      expect(response.status).to.equal(ResponseStatus.OK)
      expect(response.ttl).to.equal(120n)

      const found = await discover(peer, { ns: 'ns' })
      expect(found.registrations).to.have.lengthOf(1)
      expect(found.registrations[0].signedPeerRecord).to.equalBytes(legacy)

      // and checks it as it checks the standard format
      const other = await newPeer()
      const othersLegacy = await sealPeerRecord(other.privateKey, other.node.peerId, other.node.getMultiaddrs(), { format: 'legacy' })
      expect((await register(peer, 'ns', { signedPeerRecord: othersLegacy })).status).to.equal(ResponseStatus.E_NOT_AUTHORIZED)
      const noAddresses = await sealPeerRecord(peer.privateKey, peer.node.peerId, [], { format: 'legacy' })
      expect((await register(peer, 'ns', { signedPeerRecord: noAddresses })).status).to.equal(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
    })

    it('refuses the record of another peer with E_NOT_AUTHORIZED', async () => {
      const peer = await newPeer()
      const other = await newPeer()

      const response = await register(peer, 'ns', { signedPeerRecord: other.record })
      expect(response.status).to.equal(ResponseStatus.E_NOT_AUTHORIZED)
      expect(response.statusText).to.include('another peer')
      expect((await discover(peer, { ns: 'ns' })).registrations).to.be.empty()
    })

    it('replaces a registration when the peer registers again', async () => {
      const peer = await newPeer()
      await register(peer, 'ns', { ttl: 120n })

      const newRecord = await signedPeerRecord(peer.privateKey, ['/ip4/127.0.0.1/tcp/4001'])
      await register(peer, 'ns', { ttl: 3600n, signedPeerRecord: newRecord })

      const found = await discover(peer, { ns: 'ns' })
      expect(found.registrations).to.have.lengthOf(1)
      expect(found.registrations[0].signedPeerRecord).to.equalBytes(newRecord)
      expect(Number(found.registrations[0].ttl)).to.be.greaterThan(3500)
    })
  })

  describe('records it already verified', () => {
    let verify: sinon.SinonSpy<Parameters<SignatureVerifier>, ReturnType<SignatureVerifier>>

    beforeEach(async () => {
      verify = sinon.spy(verifyWithKey)
      await startPoint({ maxRegistrationsPerPeer: 2, maxTtl: 3600_000, verifySignature: verify })
    })

    it('does not check the signature again of a record the peer holds, in the same namespace or another', async () => {
      const peer = await newPeer()

      expect((await register(peer, 'a', { ttl: 120n })).status).to.equal(ResponseStatus.OK)
      expect(verify.callCount).to.equal(1)

      expect(await register(peer, 'a', { ttl: 3600n })).to.deep.equal({ status: ResponseStatus.OK, statusText: '', ttl: 3600n })
      expect((await register(peer, 'b', { ttl: 3600n })).status).to.equal(ResponseStatus.OK)
      expect(verify.callCount).to.equal(1)

      // refreshed: served again with the new TTL, in both namespaces
      for (const ns of ['a', 'b']) {
        const found = await discover(await newPeer(), { ns })
        expect(found.registrations).to.have.lengthOf(1)
        expect(found.registrations[0].signedPeerRecord).to.equalBytes(peer.record)
        expect(Number(found.registrations[0].ttl)).to.be.greaterThan(3500)
      }
    })

    it('checks a changed record in full', async () => {
      const peer = await newPeer()
      await register(peer, 'a')

      const newer = await signedPeerRecord(peer.privateKey, ['/ip4/127.0.0.1/tcp/4001'])
      expect((await register(peer, 'a', { signedPeerRecord: newer })).status).to.equal(ResponseStatus.OK)
      expect(verify.callCount).to.equal(2)

      // the held record with its last byte, in the signature, changed
      const forged = Uint8Array.from(newer)
      forged[forged.length - 1] ^= 1
      const refused = await register(peer, 'a', { signedPeerRecord: forged })
      expect(refused.status).to.equal(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
      expect(verify.callCount).to.equal(3)
      expect((await discover(peer, { ns: 'a' })).registrations[0].signedPeerRecord).to.equalBytes(newer)
    })

    it('does not take a record another peer holds as verified for this one', async () => {
      const a = await newPeer()
      const b = await newPeer()
      await register(a, 'ns')
      await register(b, 'own')
      expect(verify.callCount).to.equal(2)

      const stolen = await register(b, 'ns', { signedPeerRecord: a.record })
      expect(stolen.status).to.equal(ResponseStatus.E_NOT_AUTHORIZED)
      expect(verify.callCount).to.equal(3)
      expect(peerIdsOf(await discover(a, { ns: 'ns' }), peers)).to.deep.equal([0])
    })

    it('checks a new record with the verifySignature it is given, and refuses one it refuses', async () => {
      const peer = await newPeer()
      await register(peer, 'a')
      expect(verify.callCount).to.equal(1)
      expect(verify.firstCall.args[0].equals(peer.privateKey.publicKey)).to.be.true()
      expect(await verify.firstCall.returnValue).to.be.true()

      await startPoint({ verifySignature: () => false })
      const refused = await register(peer, 'a')
      expect(refused.status).to.equal(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
      expect(refused.statusText).to.include('signature is not valid')
      expect((await discover(peer, { ns: 'a' })).registrations).to.be.empty()
    })

    it('still checks the namespace, the TTL and the caps of a REGISTER with a record it holds', async () => {
      const peer = await newPeer()
      await register(peer, 'a')
      await register(peer, 'b')

      expect((await register(peer, 'c')).status).to.equal(ResponseStatus.E_NOT_AUTHORIZED)
      expect((await register(peer, 'a', { ttl: 7200n })).status).to.equal(ResponseStatus.E_INVALID_TTL)
      expect((await register(peer, 'x'.repeat(256))).status).to.equal(ResponseStatus.E_INVALID_NAMESPACE)
      expect((await register(peer, '')).status).to.equal(ResponseStatus.E_INVALID_NAMESPACE)
    })
  })

  describe('internal errors', () => {
    it('answers E_INTERNAL_ERROR when the store fails, without telling why, and keeps serving', async () => {
      const { MemoryRegistrationStore } = await import('../../src/index.ts')
      const store = new MemoryRegistrationStore()
      let failing = true
      const put = store.put.bind(store)
      store.put = async (...args) => {
        if (failing) {
          throw new Error('disk on fire at /var/secret/path')
        }

        return put(...args)
      }
      await startPoint({ store })
      const peer = await newPeer()

      const response = await register(peer, 'ns')
      expect(response.status).to.equal(ResponseStatus.E_INTERNAL_ERROR)
      expect(response.statusText).to.equal('internal error')

      failing = false
      expect((await register(peer, 'ns')).status).to.equal(ResponseStatus.OK)
    })
  })

  describe('limits', () => {
    it('refuses a namespace past maxRegistrationsPerPeer with E_NOT_AUTHORIZED but lets the peer refresh', async () => {
      await startPoint({ maxRegistrationsPerPeer: 2 })
      const peer = await newPeer()

      expect((await register(peer, 'a')).status).to.equal(ResponseStatus.OK)
      expect((await register(peer, 'b')).status).to.equal(ResponseStatus.OK)

      const refused = await register(peer, 'c')
      expect(refused.status).to.equal(ResponseStatus.E_NOT_AUTHORIZED)
      expect(refused.statusText).to.include('2 namespaces')

      expect((await register(peer, 'a', { ttl: 600n })).status).to.equal(ResponseStatus.OK)

      // another peer is not affected
      expect((await register(await newPeer(), 'c')).status).to.equal(ResponseStatus.OK)
    })

    it('refuses new registrations with E_UNAVAILABLE when the store is full, but allows refreshes', async () => {
      await startPoint({ maxRegistrations: 2 })
      const a = await newPeer()
      const b = await newPeer()

      expect((await register(a, 'ns')).status).to.equal(ResponseStatus.OK)
      expect((await register(b, 'ns')).status).to.equal(ResponseStatus.OK)

      const refused = await register(await newPeer(), 'ns')
      expect(refused.status).to.equal(ResponseStatus.E_UNAVAILABLE)
      expect(refused.statusText).to.include('full')

      expect((await register(a, 'ns', { ttl: 600n })).status).to.equal(ResponseStatus.OK)
    })

    it('refuses a registration past maxStoreBytes with E_UNAVAILABLE, but lets a peer refresh with a record no larger', async () => {
      const a = await newPeer()
      const b = await newPeer()
      // room for a's and b's registrations in one namespace, and not a byte more
      const maxStoreBytes = registrationBytes(a.record.byteLength) + registrationBytes(b.record.byteLength) + namespaceBytes('ns')
      await startPoint({ maxStoreBytes })

      expect((await register(a, 'ns')).status).to.equal(ResponseStatus.OK)
      expect((await register(b, 'ns')).status).to.equal(ResponseStatus.OK)

      const refused = await register(await newPeer(), 'ns')
      expect(refused.status).to.equal(ResponseStatus.E_UNAVAILABLE)
      expect(refused.statusText).to.equal(`the rendezvous point is full: its registrations may take at most ${maxStoreBytes} bytes`)
      // in a namespace of its own, b would need more room still
      expect((await register(b, 'other')).status).to.equal(ResponseStatus.E_UNAVAILABLE)

      // the same record again, and one with more addresses that does not fit
      expect((await register(a, 'ns', { ttl: 600n })).status).to.equal(ResponseStatus.OK)
      const larger = await signedPeerRecord(a.privateKey, [...a.node.getMultiaddrs(), '/ip4/127.0.0.1/tcp/4001'])
      expect((await register(a, 'ns', { signedPeerRecord: larger })).status).to.equal(ResponseStatus.E_UNAVAILABLE)

      const found = await discover(b, { ns: 'ns' })
      expect(found.registrations.map(registration => registration.signedPeerRecord)).to.deep.equal([b.record, a.record])
    })

    it('refuses a signed peer record larger than maxRecordSize with E_INVALID_SIGNED_PEER_RECORD', async () => {
      const peer = await newPeer()
      await startPoint({ maxRecordSize: peer.record.byteLength })
      const addresses = Array.from({ length: 10 }, (_, i) => `/ip4/10.0.0.${i}/tcp/4001`)

      expect((await register(peer, 'ns')).status).to.equal(ResponseStatus.OK)
      const refused = await register(peer, 'ns', { signedPeerRecord: await signedPeerRecord(peer.privateKey, addresses) })
      expect(refused.status).to.equal(ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
      expect(refused.statusText).to.equal(`signed peer record is larger than ${peer.record.byteLength} bytes`)
    })

    it('clamps the discover limit to maxDiscoverLimit, and treats 0 or none as that', async () => {
      await startPoint({ maxDiscoverLimit: 3 })

      for (let i = 0; i < 5; i++) {
        await register(await newPeer(), 'ns')
      }

      const peer = peers[0]
      expect((await discover(peer, { ns: 'ns' })).registrations).to.have.lengthOf(3)
      expect((await discover(peer, { ns: 'ns', limit: 0n })).registrations).to.have.lengthOf(3)
      expect((await discover(peer, { ns: 'ns', limit: 1000n })).registrations).to.have.lengthOf(3)
      expect((await discover(peer, { ns: 'ns', limit: 2n ** 64n - 1n })).registrations).to.have.lengthOf(3)
      expect((await discover(peer, { ns: 'ns', limit: 2n })).registrations).to.have.lengthOf(2)
    })
  })

  describe('unregister', () => {
    beforeEach(async () => {
      await startPoint()
    })

    it('removes the registration and sends no response', async () => {
      const peer = await newPeer()
      await register(peer, 'ns')

      const stream = await open(peer)
      await stream.write({ type: MessageType.UNREGISTER, unregister: { ns: 'ns' } })
      await stream.stream.close()

      // the point closes its end without writing anything
      const chunks = []
      for await (const chunk of stream.stream) {
        chunks.push(chunk)
      }
      expect(chunks).to.be.empty()

      expect((await discover(peer, { ns: 'ns' })).registrations).to.be.empty()
    })

    it('is a no-op for a namespace the peer is not in, and only removes the sender', async () => {
      const peer = await newPeer()
      const other = await newPeer()
      await register(peer, 'ns')

      const stream = await open(other)
      await stream.write({ type: MessageType.UNREGISTER, unregister: { ns: 'ns' } })
      await stream.write({ type: MessageType.UNREGISTER, unregister: { ns: 'unknown' } })
      const response = await stream.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })
      await stream.stream.close()

      expect(response.discoverResponse?.registrations).to.have.lengthOf(1)
    })
  })

  describe('discover', () => {
    beforeEach(async () => {
      await startPoint()
    })

    it('lists every namespace when the namespace is absent or empty', async () => {
      const a = await newPeer()
      const b = await newPeer()
      await register(a, 'one')
      await register(b, 'two')

      for (const ns of [undefined, '']) {
        const found = await discover(a, { ns })
        expect(found.registrations.map(r => r.ns)).to.deep.equal(['one', 'two'])
      }
    })

    it('refuses a namespace over 255 bytes with E_INVALID_NAMESPACE', async () => {
      const found = await discover(await newPeer(), { ns: 'x'.repeat(256) })
      expect(found.status).to.equal(ResponseStatus.E_INVALID_NAMESPACE)
      expect(found.registrations).to.be.empty()
    })

    it('returns only registrations added or refreshed since the cookie', async () => {
      const [a, b, c] = [await newPeer(), await newPeer(), await newPeer()]
      await register(a, 'ns')
      await register(b, 'ns')

      const first = await discover(c, { ns: 'ns' })
      expect(peerIdsOf(first, peers)).to.deep.equal([0, 1])

      const nothingNew = await discover(c, { ns: 'ns', cookie: first.cookie })
      expect(nothingNew.registrations).to.be.empty()
      expect(nothingNew.cookie).to.have.property('byteLength').that.is.greaterThan(0)

      await register(c, 'ns')
      await register(a, 'ns', { ttl: 600n })

      const news = await discover(c, { ns: 'ns', cookie: nothingNew.cookie })
      expect(peerIdsOf(news, peers)).to.deep.equal([2, 0])

      // the earlier cookie is still valid and sees the same news
      const again = await discover(c, { ns: 'ns', cookie: first.cookie })
      expect(peerIdsOf(again, peers)).to.deep.equal([2, 0])
    })

    it('pages with limit and cookie', async () => {
      for (let i = 0; i < 7; i++) {
        await register(await newPeer(), 'ns')
      }

      const seen: number[] = []
      let cookie: Uint8Array | undefined
      const pageSizes: number[] = []

      for (let i = 0; i < 5; i++) {
        const page = await discover(peers[0], { ns: 'ns', limit: 3n, cookie: cookie as Uint8Array<ArrayBuffer> })
        pageSizes.push(page.registrations.length)
        seen.push(...peerIdsOf(page, peers))
        cookie = page.cookie
      }

      expect(pageSizes).to.deep.equal([3, 3, 1, 0, 0])
      expect(seen).to.deep.equal([0, 1, 2, 3, 4, 5, 6])
    })

    it('scopes cookies to their namespace', async () => {
      const peer = await newPeer()
      await register(peer, 'a')

      const fromA = await discover(peer, { ns: 'a' })
      const usedOnB = await discover(peer, { ns: 'b', cookie: fromA.cookie })
      expect(usedOnB.status).to.equal(ResponseStatus.E_INVALID_COOKIE)
      expect(usedOnB.statusText).to.include('cookie')

      const usedOnAll = await discover(peer, { cookie: fromA.cookie })
      expect(usedOnAll.status).to.equal(ResponseStatus.E_INVALID_COOKIE)
    })

    it('refuses forged and malformed cookies with E_INVALID_COOKIE', async () => {
      const peer = await newPeer()
      await register(peer, 'ns')
      const { cookie } = await discover(peer, { ns: 'ns' })

      const forged = (cookie as Uint8Array<ArrayBuffer>).slice()
      // claim to have seen nothing: sequence 0
      forged.fill(0, 1, 9)

      for (const bad of [forged, uint8ArrayFromString('garbage'), (cookie as Uint8Array<ArrayBuffer>).slice(0, 10)]) {
        const response = await discover(peer, { ns: 'ns', cookie: bad })
        expect(response.status).to.equal(ResponseStatus.E_INVALID_COOKIE)
        expect(response.registrations).to.be.empty()
      }
    })

    it('refuses cookies of another point', async () => {
      const peer = await newPeer()
      await register(peer, 'ns')
      const { cookie } = await discover(peer, { ns: 'ns' })

      await startPoint()

      expect((await discover(peer, { ns: 'ns', cookie })).status).to.equal(ResponseStatus.E_INVALID_COOKIE)
    })

    it('keeps cookies valid across points that share the store and the secret', async () => {
      const { MemoryRegistrationStore } = await import('../../src/index.ts')
      const store = new MemoryRegistrationStore()
      const cookieSecret = new Uint8Array(32).fill(7)
      await startPoint({ store, cookieSecret })

      const peer = await newPeer()
      await register(peer, 'ns')
      const { cookie } = await discover(peer, { ns: 'ns' })

      await startPoint({ store, cookieSecret })
      const other = await newPeer()
      await register(other, 'ns')

      const response = await discover(peer, { ns: 'ns', cookie })
      expect(response.status).to.equal(ResponseStatus.OK)
      expect(peerIdsOf(response, peers)).to.deep.equal([1])
    })

    it('gives discover-all its own cookie, spanning namespaces', async () => {
      const peer = await newPeer()
      await register(peer, 'a')
      const all = await discover(peer, {})

      await register(peer, 'b')
      const news = await discover(peer, { cookie: all.cookie })
      expect(news.registrations.map(r => r.ns)).to.deep.equal(['b'])
      expect((await discover(peer, { ns: 'b', cookie: all.cookie })).status).to.equal(ResponseStatus.E_INVALID_COOKIE)
    })
  })

  describe('expiry', () => {
    it('never serves an expired registration (fake clock)', async () => {
      const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] })
      await startPoint()
      const peer = await newPeer()
      await register(peer, 'ns', { ttl: 120n })

      clock.tick(60_000)
      const half = await discover(peer, { ns: 'ns' })
      expect(half.registrations).to.have.lengthOf(1)
      expect(half.registrations[0].ttl).to.equal(60n)

      clock.tick(59_500)
      const last = await discover(peer, { ns: 'ns' })
      // never 0, which reads as "absent"
      expect(last.registrations[0].ttl).to.equal(1n)

      clock.tick(500)
      expect((await discover(peer, { ns: 'ns' })).registrations).to.be.empty()
      expect((await discover(peer, {})).registrations).to.be.empty()
    })

    it('lets a real one-second registration lapse', async () => {
      await startPoint({ minTtl: 1000 })
      const peer = await newPeer()
      expect((await register(peer, 'ns', { ttl: 1n })).ttl).to.equal(1n)
      // the point set the expiry before it answered, so it lies within a
      // second of now
      const answered = Date.now()
      expect((await discover(peer, { ns: 'ns' })).registrations).to.have.lengthOf(1)

      await new Promise(resolve => setTimeout(resolve, answered + 1000 - Date.now() + 10))

      expect((await discover(peer, { ns: 'ns' })).registrations).to.be.empty()
    })

    it('frees the slot of an expired registration for the caps', async () => {
      const clock = sinon.useFakeTimers({ now: Date.now(), toFake: ['Date'] })
      await startPoint({ maxRegistrations: 1 })
      await register(await newPeer(), 'ns', { ttl: 60n })

      expect((await register(await newPeer(), 'ns')).status).to.equal(ResponseStatus.E_UNAVAILABLE)
      clock.tick(60_000)
      expect((await register(await newPeer(), 'ns')).status).to.equal(ResponseStatus.OK)
    })
  })

  describe('streams', () => {
    it('serves many requests on one stream, as go clients send them', async () => {
      await startPoint()
      const peer = await newPeer()
      const stream = await open(peer)

      const registered = await stream.request({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record } })
      expect(registered.registerResponse?.status).to.equal(ResponseStatus.OK)

      const found = await stream.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })
      expect(found.discoverResponse?.registrations).to.have.lengthOf(1)

      await stream.write({ type: MessageType.UNREGISTER, unregister: { ns: 'ns' } })

      const after = await stream.request({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })
      expect(after.discoverResponse?.registrations).to.be.empty()

      await stream.stream.close()
    })

    it('answers a request on a stream the client never closes, and survives its reset after the answer, as go clients do', async () => {
      await startPoint()
      const peer = await newPeer()
      const stream = await open(peer)

      // no close: the answer comes for the frame alone
      const registered = await stream.request({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record } })
      expect(registered.registerResponse?.status).to.equal(ResponseStatus.OK)
      stream.stream.abort(new Error('reset after the answer'))

      expect((await discover(peer, { ns: 'ns' })).registrations).to.have.lengthOf(1)
    })

    it('answers requests written back to back in one chunk', async () => {
      await startPoint()
      const peer = await newPeer()
      const stream = await open(peer)
      const frames = [
        Message.encode({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record } }),
        Message.encode({ type: MessageType.DISCOVER, discover: { ns: 'ns' } })
      ].flatMap(bytes => [varint.encode(bytes.byteLength), bytes])
      stream.stream.send(Uint8Array.from(frames.flatMap(bytes => [...bytes])))

      expect((await stream.read()).registerResponse?.status).to.equal(ResponseStatus.OK)
      expect((await stream.read()).discoverResponse?.registrations).to.have.lengthOf(1)
      await stream.stream.close()
    })

    it('serves a one-request stream and closes its end after the remote closes', async () => {
      await startPoint()
      const peer = await newPeer()
      const stream = await open(peer)
      const closing = pEvent(stream.stream, 'close')

      await stream.write({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record } })
      await stream.stream.close()
      expect((await stream.read()).registerResponse?.status).to.equal(ResponseStatus.OK)

      await closing
      expect(stream.stream.status).to.equal('closed')
    })

    it('closes a stream that sends no request within the timeout, and not before', async () => {
      const timeout = 100
      await startPoint({ timeout })
      const peer = await newPeer()
      // before the point can have started its idle timer
      const opened = Date.now()
      const stream = await open(peer)

      const { error } = await closed(stream.stream)
      expect(error).to.have.property('name', 'StreamResetError')
      expect(Date.now() - opened).to.be.at.least(timeout)
    })

    const badInputs: Array<[string, Uint8Array]> = [
      ['garbage bytes', Uint8Array.from([0x05, 0xff, 0xff, 0xff, 0xff, 0xff])],
      ['a length prefix over maxMessageSize', Uint8Array.from([...varint.encode(1024 * 1024 * 1024), 1, 2, 3])],
      ['a length prefix that never ends', new Uint8Array(64).fill(0xff)],
      ['a message with an unknown type', Uint8Array.from([0x02, 0x08, 0x09])],
      ['a response sent as a request', Uint8Array.from([0x02, 0x08, 0x01])]
    ]

    for (const [name, bytes] of badInputs) {
      it(`resets the stream on ${name} and keeps serving other peers`, async () => {
        await startPoint()
        const bad = await newPeer()
        const stream = await open(bad)

        const reply = collect(stream.stream)
        stream.stream.send(bytes)

        // reset, not closed: nothing answers a stream that breaks the protocol
        expect((await reply.done).error).to.have.property('name', 'StreamResetError')
        expect(reply.bytes.byteLength).to.equal(0)

        const good = await newPeer()
        expect((await register(good, 'ns')).status).to.equal(ResponseStatus.OK)
        // the bad peer's connection still works too
        expect((await register(bad, 'ns')).status).to.equal(ResponseStatus.OK)
      })
    }

    it('survives a truncated frame followed by a close', async () => {
      await startPoint()
      const bad = await newPeer()
      const stream = await open(bad)
      const body = Message.encode({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: bad.record } })

      const closing = pEvent(stream.stream, 'close')
      stream.stream.send(Uint8Array.from([...varint.encode(body.byteLength), ...body.subarray(0, 10)]))
      await stream.stream.close()
      await closing

      expect((await register(await newPeer(), 'ns')).status).to.equal(ResponseStatus.OK)
      expect((await discover(bad, { ns: 'ns' })).registrations).to.have.lengthOf(1)
    })

    it('survives a stream reset mid-request', async () => {
      await startPoint()
      const bad = await newPeer()
      const stream = await open(bad)

      stream.stream.send(Uint8Array.from([0x40, 0x08]))
      stream.stream.abort(new Error('gone'))

      expect((await register(await newPeer(), 'ns')).status).to.equal(ResponseStatus.OK)
    })

    it('handles a custom protocol id', async () => {
      await startPoint({ protocol: '/custom/rendezvous/1.0.0' })
      const peer = await newPeer()

      await expect(peer.node.dialProtocol(point.getMultiaddrs()[0], PROTOCOL)).to.eventually.be.rejected()
      const stream = await openRendezvousStream(peer.node, point, '/custom/rendezvous/1.0.0')
      const response = await stream.request({ type: MessageType.REGISTER, register: { ns: 'ns', signedPeerRecord: peer.record } })
      expect(response.registerResponse?.status).to.equal(ResponseStatus.OK)
    })

    it('stops handling the protocol on stop', async () => {
      await startPoint()
      const peer = await newPeer()
      await point.services.rendezvousServer.stop()

      await expect(open(peer)).to.eventually.be.rejected()
    })
  })

  describe('clients that verify only legacy records (rust-libp2p)', () => {
    const RUST_AGENT = 'rust-libp2p/0.48.0'

    /**
     * A peer registered in `ns` with a record in the given format
     */
    async function registered (ns: string, format: 'standard' | 'legacy'): Promise<Peer> {
      const peer = await newPeer()
      peer.record = await sealPeerRecord(peer.privateKey, peer.node.peerId, peer.node.getMultiaddrs(), { format })
      expect((await register(peer, ns)).status).to.equal(ResponseStatus.OK)
      return peer
    }

    /**
     * A client running identify with the given agent version, connected to
     * the point once the point has identified it
     */
    async function identifiedClient (userAgent?: string): Promise<Peer> {
      const privateKey = await newPrivateKey()
      const node = await createNode({ privateKey, nodeInfo: userAgent == null ? undefined : { userAgent }, services: { identify: identify() } })
      const peer = { node, privateKey, record: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
      peers.push(peer)

      const identified = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(point as TypedEventTarget<Libp2pEvents>, 'peer:identify', {
        filter: event => event.detail.peerId.equals(node.peerId)
      })
      await node.dial(point.getMultiaddrs()[0])
      await identified

      return peer
    }

    async function startIdentifyingPoint (init: RendezvousServerInit = {}): Promise<void> {
      await point?.stop()
      point = await createNode({ services: { identify: identify(), rendezvousServer: rendezvousServer(init) } })
    }

    it('serves a client identified as rust-libp2p only the legacy records, paging over them with no repeat and no gap', async () => {
      await startIdentifyingPoint()
      const formats = ['standard', 'legacy', 'standard', 'legacy', 'legacy', 'standard'] as const
      const inNs: Peer[] = []

      for (const format of formats) {
        inNs.push(await registered('ns', format))
      }

      const legacy = [1, 3, 4]
      const rust = await identifiedClient(RUST_AGENT)

      expect(peerIdsOf(await discover(rust, { ns: 'ns' }), inNs)).to.deep.equal(legacy)
      expect(peerIdsOf(await discover(rust, {}), inNs)).to.deep.equal(legacy)

      const seen: number[] = []
      let cookie: Uint8Array<ArrayBuffer> | undefined

      for (let i = 0; i < 4; i++) {
        const page = await discover(rust, { ns: 'ns', limit: 1n, cookie })
        expect(page.status).to.equal(ResponseStatus.OK)
        expect(page.cookie).to.have.property('byteLength').that.is.greaterThan(0)
        seen.push(...peerIdsOf(page, inNs))
        cookie = page.cookie
      }

      expect(seen).to.deep.equal(legacy)

      // a legacy peer registered since is served after the cookie
      inNs.push(await registered('ns', 'legacy'))
      expect(peerIdsOf(await discover(rust, { ns: 'ns', cookie }), inNs)).to.deep.equal([6])

      // other clients get every record, identified or not
      const js = await identifiedClient()
      expect(peerIdsOf(await discover(js, { ns: 'ns' }), inNs)).to.deep.equal([0, 1, 2, 3, 4, 5, 6])
      expect(peerIdsOf(await discover(inNs[0], { ns: 'ns' }), inNs)).to.deep.equal([0, 1, 2, 3, 4, 5, 6])
    })

    it('scans at most maxDiscoverLimit registrations for a page of legacy records, and carries on from there', async () => {
      await startIdentifyingPoint({ maxDiscoverLimit: 2 })
      const inNs = [await registered('ns', 'standard'), await registered('ns', 'standard'), await registered('ns', 'legacy')]
      const rust = await identifiedClient(RUST_AGENT)

      const first = await discover(rust, { ns: 'ns', limit: 1n })
      expect(first.registrations).to.be.empty()

      const second = await discover(rust, { ns: 'ns', limit: 1n, cookie: first.cookie })
      expect(peerIdsOf(second, inNs)).to.deep.equal([2])
    })

    it('tells clients apart by the agent prefixes of legacyRecordAgents, none with []', async () => {
      await startIdentifyingPoint({ legacyRecordAgents: ['my-app/'] })
      const inNs = [await registered('ns', 'standard'), await registered('ns', 'legacy')]

      expect(peerIdsOf(await discover(await identifiedClient('my-app/1.0 rust'), { ns: 'ns' }), inNs)).to.deep.equal([1])
      expect(peerIdsOf(await discover(await identifiedClient(RUST_AGENT), { ns: 'ns' }), inNs)).to.deep.equal([0, 1])

      await startIdentifyingPoint({ legacyRecordAgents: [] })
      const again = [await registered('ns', 'standard'), await registered('ns', 'legacy')]
      expect(peerIdsOf(await discover(await identifiedClient(RUST_AGENT), { ns: 'ns' }), again)).to.deep.equal([0, 1])
    })

    describe('where identify does not run on every connection', () => {
      /**
       * A point that identifies no client when it connects, as the
       * rendezvous-server command runs
       */
      async function startAskingPoint (init: RendezvousServerInit = {}): Promise<void> {
        await point?.stop()
        point = await createNode({ services: { identify: identify({ runOnConnectionOpen: false }), rendezvousServer: rendezvousServer(init) } })
      }

      /**
       * A client connected to the point, running identify with `userAgent`
       * unless it is `null`, and the identify streams the point opens to it
       */
      async function connectedClient (userAgent?: string | null): Promise<{ peer: Peer, asked(): number }> {
        const privateKey = await newPrivateKey()
        const services: Record<string, any> = userAgent === null ? {} : { identify: identify({ runOnConnectionOpen: false }) }
        const node = await createNode({ privateKey, nodeInfo: userAgent == null ? undefined : { userAgent }, services })
        const peer = { node, privateKey, record: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
        peers.push(peer)
        await node.dial(point.getMultiaddrs()[0])

        const [connection] = point.getConnections(node.peerId)
        const newStream = sinon.spy(connection, 'newStream')
        return { peer, asked: () => newStream.getCalls().filter(call => call.args[0] === '/ipfs/id/1.0.0').length }
      }

      it('asks a client its agent version at its first DISCOVER, once per connection, and serves a rust-libp2p one the legacy records only', async () => {
        await startAskingPoint()
        const inNs = [await registered('ns', 'standard'), await registered('ns', 'legacy')]
        const rust = await connectedClient(RUST_AGENT)

        // a legacy record registered tells nothing: other clients may sign those
        rust.peer.record = await sealPeerRecord(rust.peer.privateKey, rust.peer.node.peerId, rust.peer.node.getMultiaddrs(), { format: 'legacy' })
        expect((await register(rust.peer, 'other')).status).to.equal(ResponseStatus.OK)
        expect(rust.asked()).to.equal(0)

        const answers = await Promise.all([discover(rust.peer, { ns: 'ns' }), discover(rust.peer, { ns: 'ns' })])
        expect(answers.map(answer => peerIdsOf(answer, inNs))).to.deep.equal([[1], [1]])
        expect(peerIdsOf(await discover(rust.peer, { ns: 'ns' }), inNs)).to.deep.equal([1])
        expect(rust.asked()).to.equal(1)

        const js = await connectedClient()
        expect(peerIdsOf(await discover(js.peer, { ns: 'ns' }), inNs)).to.deep.equal([0, 1])
        expect(js.asked()).to.equal(1)
      })

      it('does not ask a client that registered a standard record on the connection', async () => {
        await startAskingPoint()
        const inNs = [await registered('ns', 'standard'), await registered('ns', 'legacy')]
        const client = await connectedClient(RUST_AGENT)

        expect((await register(client.peer, 'other')).status).to.equal(ResponseStatus.OK)
        // again: the point holds the record, and skips opening it
        expect((await register(client.peer, 'another')).status).to.equal(ResponseStatus.OK)
        expect(peerIdsOf(await discover(client.peer, { ns: 'ns' }), inNs)).to.deep.equal([0, 1])
        expect(client.asked()).to.equal(0)
      })

      it('serves every record to a client that runs no identify, and asks it once', async () => {
        await startAskingPoint()
        const inNs = [await registered('ns', 'standard'), await registered('ns', 'legacy')]
        const client = await connectedClient(null)

        expect(peerIdsOf(await discover(client.peer, { ns: 'ns' }), inNs)).to.deep.equal([0, 1])
        expect(peerIdsOf(await discover(client.peer, { ns: 'ns' }), inNs)).to.deep.equal([0, 1])
        expect(client.asked()).to.equal(1)
      })

      it('serves every record to a client whose identify does not answer within the timeout', async () => {
        await startAskingPoint({ timeout: 500 })
        const inNs = [await registered('ns', 'standard'), await registered('ns', 'legacy')]
        const client = await connectedClient(null)
        const silent = Promise.withResolvers<Stream>()
        await client.peer.node.handle('/ipfs/id/1.0.0', stream => { silent.resolve(stream) })

        expect(peerIdsOf(await discover(client.peer, { ns: 'ns' }), inNs)).to.deep.equal([0, 1])
        expect(client.asked()).to.equal(1)
        // and it gave up on the stream it opened
        const stream = await silent.promise
        if (stream.status === 'open') {
          await pEvent(stream, 'close')
        }
      })

      it('asks no one with legacyRecordAgents []', async () => {
        await startAskingPoint({ legacyRecordAgents: [] })
        const inNs = [await registered('ns', 'standard'), await registered('ns', 'legacy')]
        const rust = await connectedClient(RUST_AGENT)

        expect(peerIdsOf(await discover(rust.peer, { ns: 'ns' }), inNs)).to.deep.equal([0, 1])
        expect(rust.asked()).to.equal(0)
      })
    })

    it('stops listening to identify on stop', async () => {
      await startIdentifyingPoint()
      const events = (point as any).components.components.events as EventTarget
      const removed = sinon.spy(events, 'removeEventListener')

      await point.services.rendezvousServer.stop()

      expect(removed.calledWith('peer:identify')).to.be.true()
    })
  })

  describe('options', () => {
    const invalid: Array<[RendezvousServerInit, string]> = [
      [{ minTtl: 500 }, 'minTtl'],
      [{ minTtl: 120_000, maxTtl: 60_000 }, 'maxTtl'],
      [{ defaultTtl: 30_000 }, 'defaultTtl'],
      [{ maxRegistrationsPerPeer: 0 }, 'maxRegistrationsPerPeer'],
      [{ maxDiscoverLimit: 1.5 }, 'maxDiscoverLimit'],
      [{ maxStoreBytes: 0 }, 'maxStoreBytes'],
      [{ maxRecordSize: -1 }, 'maxRecordSize'],
      [{ timeout: -1 }, 'timeout'],
      [{ cookieSecret: new Uint8Array(8) }, 'cookieSecret'],
      [{ legacyRecordAgents: [''] }, 'legacyRecordAgents'],
      [{ legacyRecordAgents: 'rust-libp2p/' as any }, 'legacyRecordAgents'],
      [{ verifySignature: true as any }, 'verifySignature']
    ]

    for (const [init, option] of invalid) {
      it(`rejects an invalid ${option} naming it`, async () => {
        expect(() => rendezvousServer(init)).to.throw(InvalidOptionError).with.property('option', option)
      })
    }
  })
})

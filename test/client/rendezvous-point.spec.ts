import { KEEP_ALIVE } from '@libp2p/interface'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { pEvent } from 'p-event'
import sinon from 'sinon'
import { OwnRecord } from '../../src/client/own-record.ts'
import { NotSentError, RendezvousPoint } from '../../src/client/rendezvous-point.ts'
import { CONNECTION_LINGER, MAX_CONCURRENT_REQUESTS_PER_POINT, PROTOCOL } from '../../src/constants.ts'
import { InvalidResponseError, InvalidSignedPeerRecordError, InvalidTTLError, NoResponseError } from '../../src/errors.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { startPoint } from '../fixtures/discovery.ts'
import { recordFormatOf, registered, startHandPoint } from '../fixtures/hand-point.ts'
import { createNode, newPrivateKey } from '../fixtures/nodes.ts'
import type { RecordFormat, RendezvousPointComponents } from '../../src/client/rendezvous-point.ts'
import type { Answer, HandPoint } from '../fixtures/hand-point.ts'
import type { Libp2p, PeerId } from '@libp2p/interface'

const log = defaultLogger().forComponent('test')

describe('rendezvous point', () => {
  describe('with a connection manager that cannot reach it', () => {
    let peerId: PeerId
    let opening: number
    let mostOpening: number
    let fail: () => void
    let failed: Promise<void>
    let point: RendezvousPoint

    beforeEach(async () => {
      peerId = peerIdFromPrivateKey(await newPrivateKey())
      opening = 0
      mostOpening = 0
      failed = new Promise(resolve => { fail = resolve })
      const components = {
        connectionManager: {
          getConnections: () => [],
          openStream: async () => {
            mostOpening = Math.max(mostOpening, ++opening)
            await failed
            opening--
            throw new Error('no route to the point')
          }
        },
        peerStore: { get: async () => { throw new Error('not found') } }
      } as unknown as RendezvousPointComponents

      point = new RendezvousPoint(components, {
        peerId,
        multiaddr: multiaddr(`/memory/nowhere/p2p/${peerId}`),
        recordFormat: 'auto',
        protocol: PROTOCOL,
        timeout: 10_000,
        maxReconnectDelay: 60_000
      }, log)
    })

    afterEach(async () => {
      fail()
      await point.stop()
    })

    it(`sends at most ${MAX_CONCURRENT_REQUESTS_PER_POINT} requests at a time`, async () => {
      const requests = Array.from({ length: 10 }, async (_, i) => point.discover({ namespace: `ns-${i}`, limit: 10 }).catch(err => err))
      await new Promise(resolve => setTimeout(resolve, 10))
      expect(mostOpening).to.equal(MAX_CONCURRENT_REQUESTS_PER_POINT)

      fail()
      const errors = await Promise.all(requests)
      expect(errors.every(err => err instanceof Error)).to.be.true()
      expect(mostOpening).to.equal(MAX_CONCURRENT_REQUESTS_PER_POINT)
    })

    it('backs off once for failures that happen together, holding background requests back but not the user\'s', async () => {
      const clock = sinon.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })

      try {
        const together = Array.from({ length: 3 }, async () => point.discover({ namespace: 'ns', limit: 10 }).catch(err => err))
        fail()
        await Promise.all(together)

        // one failure: a wait of 0.5 to 1 s
        expect(point.heldFor()).to.be.within(500, 1000)
        await expect(point.discover({ namespace: 'ns', limit: 10 }, { background: true })).to.eventually.be.rejectedWith(NotSentError)

        // the user's request is sent, fails, and doubles the wait
        await expect(point.discover({ namespace: 'ns', limit: 10 })).to.eventually.be.rejectedWith('no route')
        expect(point.heldFor()).to.be.within(1000, 2000)

        clock.tick(2000)
        expect(point.heldFor()).to.equal(0)
      } finally {
        clock.restore()
      }
    })

    it('does not send a request cancelled while it waits for its turn', async () => {
      const busy = Array.from({ length: MAX_CONCURRENT_REQUESTS_PER_POINT }, async () => point.discover({ namespace: 'ns', limit: 10 }).catch(() => {}))
      const cancel = new AbortController()
      const waiting = point.discover({ namespace: 'waiting', limit: 10 }, { cancel: cancel.signal })
      cancel.abort()
      fail()

      await expect(waiting).to.eventually.be.rejectedWith(NotSentError)
      await Promise.all(busy)
      expect(mostOpening).to.equal(MAX_CONCURRENT_REQUESTS_PER_POINT)
    })
  })

  describe('over real nodes', () => {
    let nodes: Libp2p[]
    let client: Libp2p

    function pointAt (address: HandPoint['address'], recordFormat: RecordFormat = 'auto'): RendezvousPoint {
      return new RendezvousPoint((client as any).components, {
        peerId: peerIdFromString(address.getComponents().findLast(component => component.name === 'p2p')?.value ?? ''),
        multiaddr: address,
        recordFormat,
        protocol: PROTOCOL,
        timeout: 5000,
        maxReconnectDelay: 60_000
      }, log)
    }

    function record (): OwnRecord {
      return new OwnRecord((client as any).components, log)
    }

    async function handPoint (answer: Answer): Promise<HandPoint> {
      const point = await startHandPoint(answer)
      nodes.push(point.node)
      return point
    }

    beforeEach(async () => {
      client = await createNode()
      nodes = [client]
    })

    afterEach(async () => {
      await Promise.all(nodes.map(async node => node.stop()))
    })

    it('answers a refused request with the point\'s error, without backing off the point', async () => {
      const hand = await handPoint(() => ({ type: Message.MessageType.REGISTER_RESPONSE, registerResponse: { status: Message.ResponseStatus.E_INVALID_TTL } }))
      const point = pointAt(hand.address)

      await expect(point.register({ namespace: 'ns', ttl: 60_000 }, record())).to.eventually.be.rejectedWith(InvalidTTLError)
      expect(point.heldFor()).to.equal(0)
      await point.stop()
    })

    it('treats a point granting a TTL of 0 as broken, without backing off the point', async () => {
      const hand = await handPoint(() => registered(0n))
      const point = pointAt(hand.address)

      await expect(point.register({ namespace: 'ns', ttl: 60_000 }, record())).to.eventually.be.rejectedWith(InvalidResponseError)
      expect(point.heldFor()).to.equal(0)
      await point.stop()
    })

    describe('record formats', () => {
      /**
       * A point as rust-libp2p's: a standard record is dropped without an
       * answer, or refused with `refusal` when given
       */
      async function legacyPoint (refusal?: Message.ResponseStatus): Promise<HandPoint> {
        return handPoint(async (request) => {
          if (await recordFormatOf(request) === 'legacy') {
            return registered(3600n)
          }

          return refusal == null ? undefined : { type: Message.MessageType.REGISTER_RESPONSE, registerResponse: { status: refusal } }
        })
      }

      it('under auto, retries at once in the legacy format at a point that ends the stream without an answer, and remembers it', async () => {
        const hand = await legacyPoint()
        const point = pointAt(hand.address)
        const own = record()

        expect(await point.register({ namespace: 'ns', ttl: 3_600_000 }, own)).to.equal(3_600_000)
        expect(point.recordFormat()).to.equal('legacy')
        expect(await point.register({ namespace: 'ns', ttl: 3_600_000 }, own)).to.equal(3_600_000)

        const formats = await Promise.all(hand.requests.map(async ({ message }) => recordFormatOf(message)))
        expect(formats).to.deep.equal(['standard', 'legacy', 'legacy'])
        expect(point.heldFor()).to.equal(0)
        await point.stop()
      })

      it('under auto, retries in the legacy format at a point answering E_INVALID_SIGNED_PEER_RECORD', async () => {
        const hand = await legacyPoint(Message.ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
        const point = pointAt(hand.address)

        expect(await point.register({ namespace: 'ns', ttl: 3_600_000 }, record())).to.equal(3_600_000)
        expect(point.recordFormat()).to.equal('legacy')
        await point.stop()
      })

      it('under auto, stays standard when the legacy retry fails too, rejecting with the first answer', async () => {
        const hand = await handPoint(() => ({ type: Message.MessageType.REGISTER_RESPONSE, registerResponse: { status: Message.ResponseStatus.E_INVALID_SIGNED_PEER_RECORD, statusText: 'no' } }))
        const point = pointAt(hand.address)

        await expect(point.register({ namespace: 'ns', ttl: 3_600_000 }, record())).to.eventually.be.rejectedWith(InvalidSignedPeerRecordError)
        expect(point.recordFormat()).to.equal('standard')
        expect(hand.requests).to.have.lengthOf(2)
        await point.stop()
      })

      it('under standard, does not retry', async () => {
        const hand = await legacyPoint()
        const point = pointAt(hand.address, 'standard')

        await expect(point.register({ namespace: 'ns', ttl: 3_600_000 }, record())).to.eventually.be.rejectedWith(NoResponseError)
        expect(hand.requests).to.have.lengthOf(1)
        await point.stop()
      })

      it('under legacy, signs the legacy format from the first REGISTER', async () => {
        const hand = await legacyPoint()
        const point = pointAt(hand.address, 'legacy')

        expect(await point.register({ namespace: 'ns', ttl: 3_600_000 }, record())).to.equal(3_600_000)
        expect(await recordFormatOf(hand.requests[0].message)).to.equal('legacy')
        expect(hand.requests).to.have.lengthOf(1)
        await point.stop()
      })
    })

    describe('connections', () => {
      it('closes the connection it opened once it has had nothing to send for a while', async () => {
        const { node, address } = await startPoint()
        nodes.push(node)
        const point = pointAt(address)

        await point.discover({ namespace: 'ns', limit: 10 })
        const [connection] = client.getConnections(node.peerId)
        expect(connection).to.be.ok()
        const startedAt = Date.now()

        await pEvent(connection, 'close')
        expect(Date.now() - startedAt).to.be.at.least(CONNECTION_LINGER - 5)
        expect(client.getConnections(node.peerId)).to.be.empty()

        // the next request dials again
        await point.discover({ namespace: 'ns', limit: 10 })
        expect(client.getConnections(node.peerId)).to.have.lengthOf(1)
        await point.stop()
        expect(client.getConnections(node.peerId)).to.be.empty()
      })

      it('keeps a connection it did not open, and one to a point tagged keep-alive', async () => {
        const first = await startPoint()
        const second = await startPoint()
        nodes.push(first.node, second.node)

        await client.dial(first.address)
        await client.peerStore.merge(second.node.peerId, { tags: { [`${KEEP_ALIVE}-test`]: { value: 1 } } })

        for (const { address } of [first, second]) {
          const point = pointAt(address)
          await point.discover({ namespace: 'ns', limit: 10 })
          await new Promise(resolve => setTimeout(resolve, CONNECTION_LINGER * 2))
          await point.stop()
        }

        expect(client.getConnections(first.node.peerId)).to.have.lengthOf(1)
        expect(client.getConnections(second.node.peerId)).to.have.lengthOf(1)
      })
    })
  })
})

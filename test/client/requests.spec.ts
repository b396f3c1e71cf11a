import { pbStream } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { sendDiscover, sendRegister } from '../../src/client/requests.ts'
import { PROTOCOL } from '../../src/constants.ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { createNode, newPrivateKey, signedPeerRecord } from '../fixtures/nodes.ts'
import { requestContext } from '../fixtures/request-context.ts'
import type { RequestContext } from '../../src/client/requests.ts'
import type { Libp2p, Stream } from '@libp2p/interface'

const { MessageType, ResponseStatus } = Message

describe('client requests', () => {
  let point: Libp2p
  let client: Libp2p
  let context: RequestContext
  let record: Uint8Array<ArrayBuffer>

  /**
   * Makes the point answer each request as go-libp2p-rendezvous does: it
   * reads one message, writes `answer`'s response and never closes its end
   * of the stream
   */
  async function answerAsGo (answer: (request: Message) => Message): Promise<Stream[]> {
    const streams: Stream[] = []

    await point.handle(PROTOCOL, async (stream) => {
      streams.push(stream)
      const messages = pbStream(stream).pb(Message)
      await messages.write(answer(await messages.read()))
    })

    return streams
  }

  beforeEach(async () => {
    point = await createNode()
    client = await createNode()
    record = await signedPeerRecord(await newPrivateKey(), ['/ip4/127.0.0.1/tcp/4001'])
    context = requestContext(client)
  })

  afterEach(async () => {
    await client?.stop()
    await point?.stop()
  })

  it('reads the one answer of a point that never closes its end of the stream', async () => {
    const streams = await answerAsGo(() => ({
      type: MessageType.REGISTER_RESPONSE,
      registerResponse: { status: ResponseStatus.OK, ttl: 60n }
    }))

    const granted = await sendRegister(context, point.getMultiaddrs()[0], { namespace: 'ns', signedPeerRecord: record, ttl: 60_000 }, { signal: AbortSignal.timeout(5_000) })

    expect(granted).to.equal(60_000)
    expect(streams[0].writeStatus).to.equal('writable')
  })

  it('takes an empty ns in a DISCOVER answer for the namespace asked, as go points send it', async () => {
    await answerAsGo(() => ({
      type: MessageType.DISCOVER_RESPONSE,
      discoverResponse: {
        status: ResponseStatus.OK,
        cookie: Uint8Array.from([1, 2, 3]),
        registrations: [{ ns: '', signedPeerRecord: record, ttl: 59n }, { signedPeerRecord: record, ttl: 58n }]
      }
    }))

    const page = await sendDiscover(context, point.getMultiaddrs()[0], { namespace: 'waku', limit: 10 }, { signal: AbortSignal.timeout(5_000) })

    expect(page.registrations.map(registration => registration.namespace)).to.deep.equal(['waku', 'waku'])
    expect(page.registrations.map(registration => registration.ttl)).to.deep.equal([59_000, 58_000])
    expect(page.cookie).to.equalBytes(Uint8Array.from([1, 2, 3]))
  })

  it('keeps the namespace a registration names in an answer to DISCOVER of every namespace', async () => {
    await answerAsGo(() => ({
      type: MessageType.DISCOVER_RESPONSE,
      discoverResponse: {
        status: ResponseStatus.OK,
        cookie: Uint8Array.from([1]),
        registrations: [{ ns: 'a', signedPeerRecord: record, ttl: 59n }]
      }
    }))

    const page = await sendDiscover(context, point.getMultiaddrs()[0], { namespace: '', limit: 10 }, { signal: AbortSignal.timeout(5_000) })

    expect(page.registrations.map(registration => registration.namespace)).to.deep.equal(['a'])
  })

  it('takes an OK DISCOVER answer without a cookie, as go points send when nothing matched', async () => {
    await answerAsGo(() => ({
      type: MessageType.DISCOVER_RESPONSE,
      discoverResponse: { status: ResponseStatus.OK, registrations: [] }
    }))

    const page = await sendDiscover(context, point.getMultiaddrs()[0], { namespace: 'ns', limit: 10 }, { signal: AbortSignal.timeout(5_000) })

    expect(page.registrations).to.be.empty()
    expect(page.cookie).to.be.undefined()
  })

  /**
   * Has the point read the request and then `end` the stream without an
   * answer, and expects NoResponseError
   */
  async function expectNoResponse (end: (stream: Stream) => Promise<void> | void): Promise<void> {
    await point.handle(PROTOCOL, async (stream) => {
      await pbStream(stream).pb(Message).read()
      await end(stream)
    })

    await expect(sendRegister(context, point.getMultiaddrs()[0], { namespace: 'ns', signedPeerRecord: record, ttl: 60_000 }, { signal: AbortSignal.timeout(5_000) }))
      .to.eventually.be.rejected.with.property('name', 'NoResponseError')
  }

  it('throws NoResponseError when the point closes the stream without an answer, as rust-libp2p points may', async () => {
    await expectNoResponse(async stream => { await stream.close() })
  })

  it('throws NoResponseError when the point resets the stream without an answer, as rust-libp2p points do', async () => {
    await expectNoResponse(stream => { stream.abort(new Error('cannot decode')) })
  })
})

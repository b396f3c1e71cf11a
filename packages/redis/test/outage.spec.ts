import { pbStream } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { Message, PROTOCOL, rendezvousServer } from 'libp2p-rendezvous'
import { newPrivateKey, signedPeerRecord } from 'libp2p-rendezvous-testing'
import { Children, createTcpNode, startRedis, startRedisOn } from 'libp2p-rendezvous-testing/node'
import { RedisRegistrationStore } from '../src/index.ts'
import type { Libp2p } from '@libp2p/interface'

const { MessageType, ResponseStatus } = Message

describe('a rendezvous point whose Redis goes down while it runs', function () {
  this.timeout(30_000)

  const children = new Children()
  let nodes: Libp2p[]

  beforeEach(() => {
    nodes = []
  })

  afterEach(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
    await children.stopAll()
  })

  it('answers E_INTERNAL_ERROR while Redis is down, and serves again once it is back', async () => {
    const redis = await startRedis(children)
    // the store makes its own client, as the command's does
    const store = new RedisRegistrationStore({ url: redis.url, commandTimeout: 500 })
    const point = await createTcpNode({ services: { rendezvousServer: rendezvousServer({ store }) } })
    const privateKey = await newPrivateKey()
    const peer = await createTcpNode({ privateKey })
    nodes.push(point, peer)
    const record = await signedPeerRecord(privateKey, peer.getMultiaddrs())

    const request = async (message: Message): Promise<Message> => {
      const stream = await peer.dialProtocol(point.getMultiaddrs()[0], PROTOCOL)
      const messages = pbStream(stream).pb(Message)
      await messages.write(message)
      const response = await messages.read()
      await stream.close()
      return response
    }
    const register = async (ns: string): Promise<Message.RegisterResponse> => (await request({ type: MessageType.REGISTER, register: { ns, signedPeerRecord: record } })).registerResponse ?? {}
    const discover = async (ns: string): Promise<Message.DiscoverResponse> => (await request({ type: MessageType.DISCOVER, discover: { ns } })).discoverResponse ?? { registrations: [] }

    expect((await register('before')).status).to.equal(ResponseStatus.OK)

    await redis.stop()

    expect(await register('during')).to.deep.equal({ status: ResponseStatus.E_INTERNAL_ERROR, statusText: 'the registration store failed' })
    const down = await discover('before')
    expect(down.status).to.equal(ResponseStatus.E_INTERNAL_ERROR)
    expect(down.registrations).to.be.empty()

    // Redis comes back (empty: it keeps nothing on disk); the store's client
    // reconnects on its own, at most about 2 s after it, and a request waits
    // for it up to commandTimeout (500 ms)
    await startRedisOn(children, redis.port)
    const statuses: Array<Message.ResponseStatus | undefined> = []

    while (statuses.at(-1) !== ResponseStatus.OK && statuses.length < 10) {
      statuses.push((await register('after')).status)
    }

    expect(statuses.at(-1)).to.equal(ResponseStatus.OK)
    expect(statuses.slice(0, -1).every(status => status === ResponseStatus.E_INTERNAL_ERROR)).to.be.true()

    const found = await discover('after')
    expect(found.status).to.equal(ResponseStatus.OK)
    expect(found.registrations.map(registration => registration.signedPeerRecord)).to.deep.equal([record])
  })
})

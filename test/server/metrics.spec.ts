import { expect } from 'aegir/chai'
import { stubInterface } from 'sinon-ts'
import { Message } from '../../src/pb/rendezvous.ts'
import { RendezvousServer } from '../../src/server/rendezvous-server.ts'
import { createNode, newPrivateKey, openRendezvousStream, signedPeerRecord } from '../fixtures/nodes.ts'
import type { CalculatedMetricOptions, CounterGroup, Libp2p, Metrics } from '@libp2p/interface'
import type { SinonStub } from 'sinon'

describe('rendezvous server metrics', () => {
  let nodes: Libp2p[]

  beforeEach(() => {
    nodes = []
  })

  afterEach(async () => {
    await Promise.all(nodes.map(async node => node.stop()))
  })

  it('counts requests by type and responses by status, and gauges registrations', async () => {
    const counters = new Map<string, CounterGroup>()
    const gauges = new Map<string, CalculatedMetricOptions>()
    const metrics = stubInterface<Metrics>({
      registerCounterGroup: ((name: string) => {
        const group = stubInterface<CounterGroup>()
        counters.set(name, group)
        return group
      }) as any,
      registerMetric: ((name: string, options: CalculatedMetricOptions) => {
        gauges.set(name, options)
      }) as any
    })

    const point = await createNode()
    const components = (point as any).components
    const server = new RendezvousServer({ registrar: components.registrar, logger: components.logger, metrics })
    await server.start()
    const privateKey = await newPrivateKey()
    const peer = await createNode({ privateKey })
    nodes.push(point, peer)

    const stream = await openRendezvousStream(peer, point)
    const record = await signedPeerRecord(privateKey, peer.getMultiaddrs())
    await stream.request({ type: Message.MessageType.REGISTER, register: { ns: 'a', signedPeerRecord: record } })
    await stream.request({ type: Message.MessageType.REGISTER, register: { ns: 'b', signedPeerRecord: record, ttl: 1n } })
    await stream.request({ type: Message.MessageType.DISCOVER, discover: { ns: 'a' } })
    await stream.stream.close()

    const requests = counters.get('libp2p_rendezvous_server_requests_total')?.increment as SinonStub
    const responses = counters.get('libp2p_rendezvous_server_responses_total')?.increment as SinonStub
    expect(requests.getCalls().map(call => call.args[0])).to.deep.equal([{ register: true }, { register: true }, { discover: true }])
    expect(responses.getCalls().map(call => call.args[0])).to.deep.equal([{ OK: true }, { E_INVALID_TTL: true }, { OK: true }])
    expect(await gauges.get('libp2p_rendezvous_server_registrations')?.calculate()).to.equal(1)

    await server.stop()
  })
})

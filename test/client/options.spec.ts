import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { resolveRendezvousInit } from '../../src/client/options.ts'
import { InvalidOptionError, rendezvous } from '../../src/index.ts'
import type { RendezvousInit } from '../../src/index.ts'

describe('rendezvous() options', () => {
  const peerId = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
  const point = `/memory/x/p2p/${peerId}`

  it('has the documented defaults', () => {
    const options = resolveRendezvousInit({ rendezvousPoints: [point] })

    expect(options).to.include({
      ttl: 7_200_000,
      discoverInterval: 60_000,
      discoverLimit: 100,
      protocol: '/rendezvous/1.0.0',
      timeout: 10_000,
      maxReconnectDelay: 60_000,
      maxPeers: 10_000,
      peerFilter: true,
      tagName: 'rendezvous',
      tagValue: 50,
      recordFormat: 'auto'
    })
    expect(options.namespaces).to.deep.equal([])
    expect(options.discoverNamespaces).to.deep.equal([])
    expect(options.rendezvousPoints).to.have.lengthOf(1)
    expect(options.rendezvousPoints[0].peerId.toString()).to.equal(peerId)
    expect(options.rendezvousPoints[0].recordFormat).to.equal('auto')
  })

  it('takes every option', () => {
    const filter = (): boolean => true
    const options = resolveRendezvousInit({
      rendezvousPoints: [multiaddr(point), { multiaddr: point, recordFormat: 'standard' }],
      namespaces: ['a', 'b', 'a'],
      ttl: 1000,
      discoverInterval: 1,
      discoverLimit: 1000,
      protocol: '/canvas/rendezvous/1.0.0',
      timeout: 1,
      maxReconnectDelay: 1,
      maxPeers: 1,
      peerFilter: filter,
      tagName: 'mine',
      tagValue: 0,
      recordFormat: 'legacy'
    })

    expect(options.namespaces).to.deep.equal(['a', 'b'])
    expect(options.discoverNamespaces).to.deep.equal(['a', 'b'])
    expect(options.rendezvousPoints.map(p => p.recordFormat)).to.deep.equal(['legacy', 'standard'])
    expect(options).to.include({ ttl: 1000, discoverLimit: 1000, protocol: '/canvas/rendezvous/1.0.0', peerFilter: filter, tagName: 'mine', tagValue: 0 })
    expect(resolveRendezvousInit({ rendezvousPoints: [point], namespaces: ['a'], discoverNamespaces: [] }).discoverNamespaces).to.deep.equal([])
  })

  const invalid: Array<[Partial<RendezvousInit>, string]> = [
    [{ rendezvousPoints: [] }, 'rendezvousPoints'],
    [{ rendezvousPoints: ['/ip4/127.0.0.1/tcp/4001'] }, 'rendezvousPoints'],
    [{ rendezvousPoints: ['not a multiaddr'] }, 'rendezvousPoints'],
    [{ rendezvousPoints: [{ multiaddr: 42 as any }] }, 'rendezvousPoints'],
    [{ rendezvousPoints: [{ multiaddr: point, recordFormat: 'rust' as any }] }, 'rendezvousPoints'],
    [{ namespaces: ['x'.repeat(256)] }, 'namespaces'],
    [{ namespaces: [''] }, 'namespaces'],
    [{ namespaces: 'ns' as any }, 'namespaces'],
    [{ discoverNamespaces: ['é'.repeat(128)] }, 'discoverNamespaces'],
    [{ ttl: 500 }, 'ttl'],
    [{ ttl: 72 * 3_600_000 + 1 }, 'ttl'],
    [{ ttl: 1500.5 }, 'ttl'],
    [{ discoverInterval: 0 }, 'discoverInterval'],
    // longer than setTimeout can wait: it would fire at once
    [{ discoverInterval: 2 ** 31 }, 'discoverInterval'],
    [{ discoverLimit: 1001 }, 'discoverLimit'],
    [{ discoverLimit: 0 }, 'discoverLimit'],
    [{ protocol: 'rendezvous' }, 'protocol'],
    [{ timeout: -5 }, 'timeout'],
    [{ timeout: 2 ** 31 }, 'timeout'],
    [{ maxReconnectDelay: Infinity }, 'maxReconnectDelay'],
    [{ maxReconnectDelay: 2 ** 31 }, 'maxReconnectDelay'],
    [{ maxPeers: 0 }, 'maxPeers'],
    [{ peerFilter: 'dialable' as any }, 'peerFilter'],
    [{ tagName: '' }, 'tagName'],
    [{ tagValue: 101 }, 'tagValue'],
    [{ tagValue: 2.5 }, 'tagValue'],
    [{ recordFormat: 'rust' as any }, 'recordFormat']
  ]

  for (const [init, option] of invalid) {
    it(`throws InvalidOptionError naming ${option} for ${describeValue(Object.values(init)[0])}`, () => {
      expect(() => rendezvous({ rendezvousPoints: [point], ...init }))
        .to.throw(InvalidOptionError).with.property('option', option)
    })
  }
})

function describeValue (value: unknown): string {
  return typeof value === 'number' ? String(value) : JSON.stringify(value).slice(0, 40)
}

import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { HostRules, hostOf } from '../../src/server/host.ts'

const GROUPING = { ipv4PrefixLength: 32, ipv6PrefixLength: 64 }
const PEER = '12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq'
const RELAY = '12D3KooWHGvE2CdUCpZLNbDfSdQt8e6gPVyyAYDedKYBpSUKwFpR'

function host (address: string, grouping = GROUPING): string {
  return hostOf(multiaddr(address), grouping)
}

describe('hosts', () => {
  it('makes each IPv4 address a host, whatever the transport or port', () => {
    const addresses = [
      '/ip4/192.0.2.7/tcp/4001',
      '/ip4/192.0.2.7/tcp/4002/ws',
      '/ip4/192.0.2.7/udp/4001/quic-v1',
      '/ip4/192.0.2.7/udp/4001/webrtc-direct',
      `/ip4/192.0.2.7/tcp/4001/p2p/${PEER}`
    ]

    expect(new Set(addresses.map(address => host(address)))).to.deep.equal(new Set(['ip4/192.0.2.7/32']))
    expect(host('/ip4/192.0.2.8/tcp/4001')).to.not.equal(host('/ip4/192.0.2.7/tcp/4001'))
  })

  it('makes an IPv6 /64 one host', () => {
    expect(host('/ip6/2001:db8:1:2::1/tcp/4001')).to.equal(host('/ip6/2001:db8:1:2:ffff:ffff:ffff:ffff/udp/9/quic-v1'))
    expect(host('/ip6/2001:db8:1:3::1/tcp/4001')).to.not.equal(host('/ip6/2001:db8:1:2::1/tcp/4001'))
  })

  it('groups by the configured prefix lengths', () => {
    const wide = { ipv4PrefixLength: 24, ipv6PrefixLength: 48 }

    expect(host('/ip4/192.0.2.7/tcp/1', wide)).to.equal(host('/ip4/192.0.2.200/tcp/1', wide))
    expect(host('/ip4/192.0.3.7/tcp/1', wide)).to.not.equal(host('/ip4/192.0.2.7/tcp/1', wide))
    expect(host('/ip6/2001:db8:1:2::1/tcp/1', wide)).to.equal(host('/ip6/2001:db8:1:ffff::1/tcp/1', wide))
    expect(host('/ip6/2001:db8:2::1/tcp/1', wide)).to.not.equal(host('/ip6/2001:db8:1::1/tcp/1', wide))
  })

  it('counts an IPv4 address mapped into IPv6 as the IPv4 address', () => {
    expect(host('/ip6/::ffff:192.0.2.7/tcp/4001')).to.equal(host('/ip4/192.0.2.7/tcp/4002'))
  })

  it('counts a peer behind a circuit relay as the relay\'s host', () => {
    const relayed = `/ip4/198.51.100.1/tcp/4001/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`

    expect(host(relayed)).to.equal(host('/ip4/198.51.100.1/tcp/4001'))
    expect(host(`/ip4/198.51.100.1/tcp/4001/ws/p2p/${RELAY}/p2p-circuit/webrtc/p2p/${PEER}`)).to.equal(host(relayed))
  })

  it('makes each address without an IP a host of its own, its relay\'s for a circuit address', () => {
    expect(host('/memory/a')).to.equal('/memory/a')
    expect(host(`/memory/a/p2p/${PEER}`)).to.equal('/memory/a')
    expect(host('/memory/b')).to.not.equal(host('/memory/a'))
    expect(host(`/memory/relay/p2p/${RELAY}/p2p-circuit/p2p/${PEER}`)).to.equal('/memory/relay')
  })

  it('gives a connection\'s address the same answer every time, exempt or not', () => {
    const rules = new HostRules(GROUPING, [multiaddr('/ip4/10.0.0.0/ipcidr/8')])
    const counted = multiaddr('/ip4/192.0.2.7/tcp/4001')
    const exempt = multiaddr('/ip4/10.1.2.3/tcp/4001')

    for (let i = 0; i < 2; i++) {
      expect(rules.hostOf(counted)).to.equal('ip4/192.0.2.7/32')
      expect(rules.hostOf(exempt)).to.be.undefined()
    }
  })
})

import { expect } from 'aegir/chai'
import { DEFAULT_LISTEN, parseFlags } from '../src/flags.ts'

describe('rendezvous-server flags', () => {
  it('takes durations in seconds and gives the library milliseconds', () => {
    const { server } = parseFlags(['--min-ttl', '120', '--max-ttl', '600', '--default-ttl', '300', '--timeout', '7', '--rate-limit-window', '2'])

    expect(server).to.deep.equal({ minTtl: 120_000, maxTtl: 600_000, defaultTtl: 300_000, timeout: 7_000, rateLimitWindow: 2_000 })
  })

  it('passes counts and sizes through as they are', () => {
    const { server } = parseFlags([
      '--max-namespace-length', '100', '--max-registrations-per-peer', '5', '--max-registrations', '1000',
      '--max-registrations-per-host', '50', '--ipv4-prefix-length', '24', '--ipv6-prefix-length', '48',
      '--max-store-bytes', '1048576', '--max-record-size', '2048', '--max-discover-limit', '50',
      '--max-message-size', '4096', '--max-inbound-streams', '4', '--max-requests-per-peer', '10'
    ])

    expect(server).to.deep.equal({
      maxNamespaceLength: 100,
      maxRegistrationsPerPeer: 5,
      maxRegistrations: 1000,
      maxRegistrationsPerHost: 50,
      ipv4PrefixLength: 24,
      ipv6PrefixLength: 48,
      maxStoreBytes: 1_048_576,
      maxRecordSize: 2048,
      maxDiscoverLimit: 50,
      maxMessageSize: 4096,
      maxInboundStreams: 4,
      maxRequestsPerPeer: 10
    })
  })

  it('sets the connection limits, and raises them over libp2p\'s defaults when not given', () => {
    expect(parseFlags(['--max-connections', '10', '--inbound-connection-threshold', '3', '--max-incoming-pending-connections', '7', '--allow', '/ip4/10.0.0.5', '--allow', '/ip4/10.0.0.6'])).to.include({
      maxConnections: 10,
      inboundConnectionThreshold: 3,
      maxIncomingPendingConnections: 7
    }).and.to.have.deep.property('allow', ['/ip4/10.0.0.5', '/ip4/10.0.0.6'])

    expect(parseFlags([])).to.deep.include({
      listen: DEFAULT_LISTEN,
      dataDir: './rendezvous-data',
      maxConnections: 5000,
      inboundConnectionThreshold: 100,
      maxIncomingPendingConnections: 500,
      allow: [],
      server: {}
    })
  })

  it('exempts the --allow addresses from the per-host cap too, and refuses one that is not an IP address or range', () => {
    expect(parseFlags(['--allow', '/ip4/10.0.0.5', '--allow', '/ip4/10.1.0.0/ipcidr/16']).server).to.deep.equal({ exemptHosts: ['/ip4/10.0.0.5', '/ip4/10.1.0.0/ipcidr/16'] })
    expect(() => parseFlags(['--allow', '/dns4/example.com'])).to.throw(/--allow: .*\/dns4\/example.com is not an address or a range/)
    expect(() => parseFlags([], { RENDEZVOUS_ALLOW: '/ip4/10.0.0.0/ipcidr/33' })).to.throw(/RENDEZVOUS_ALLOW: /)
  })

  it('hands memory back when the point goes quiet, unless --keep-memory says not to', () => {
    expect(parseFlags([]).keepMemory).to.be.false()
    expect(parseFlags(['--keep-memory']).keepMemory).to.be.true()
    expect(parseFlags([], { RENDEZVOUS_KEEP_MEMORY: 'true' }).keepMemory).to.be.true()
    expect(parseFlags([], { RENDEZVOUS_KEEP_MEMORY: 'no' }).keepMemory).to.be.false()
  })
})

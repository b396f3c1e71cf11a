import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { identify } from '@libp2p/identify'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { pbStream } from '@libp2p/utils'
import { webSockets } from '@libp2p/websockets'
import { expect } from 'aegir/chai'
import { Message, PROTOCOL } from 'libp2p-rendezvous'
import { newPrivateKey, signedPeerRecord } from 'libp2p-rendezvous-testing'
import { Children, createTcpNode } from 'libp2p-rendezvous-testing/node'
import { pEvent } from 'p-event'
import { request, runCommand, startCommand } from './fixtures/command.ts'
import type { IdentifyResult, Libp2p, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Socket } from 'node:net'

const LOOPBACK = ['--listen', '/ip4/127.0.0.1/tcp/0']

/**
 * The peer ids in the registrations of a DISCOVER response
 */
async function peersIn (response: Message): Promise<string[]> {
  return Promise.all((response.discoverResponse?.registrations ?? []).map(async registration => {
    const envelope = await RecordEnvelope.openAndCertify(registration.signedPeerRecord as Uint8Array, PeerRecord.DOMAIN)
    return PeerRecord.createFromProtobuf(envelope.payload).peerId.toString()
  }))
}

describe('rendezvous-server command', function () {
  this.timeout(60_000)

  const children = new Children()
  let dataDir: string
  let clients: Libp2p[]

  async function newClient (options: Parameters<typeof createTcpNode>[0] = {}, host?: string): Promise<{ node: Libp2p, privateKey: PrivateKey, record: Uint8Array<ArrayBuffer> }> {
    const privateKey = await newPrivateKey()
    const node = await createTcpNode({ privateKey, ...options }, host)
    clients.push(node)
    return { node, privateKey, record: await signedPeerRecord(privateKey, node.getMultiaddrs().length > 0 ? node.getMultiaddrs() : ['/ip4/127.0.0.1/tcp/1']) }
  }

  async function register (client: { node: Libp2p, record: Uint8Array<ArrayBuffer> }, point: Multiaddr, ns: string, ttl?: bigint): Promise<Message.RegisterResponse> {
    const response = await request(client.node, point, { type: Message.MessageType.REGISTER, register: { ns, ttl, signedPeerRecord: client.record } })
    return response.registerResponse ?? {}
  }

  /**
   * Every namespace the point serves registrations in, paging with cookies
   */
  async function servedNamespaces (client: Libp2p, point: Multiaddr): Promise<string[]> {
    const namespaces: string[] = []
    let cookie: Uint8Array<ArrayBuffer> | undefined

    for (;;) {
      const response = (await request(client, point, { type: Message.MessageType.DISCOVER, discover: { cookie, limit: 1000n } })).discoverResponse
      expect(response?.status).to.equal(Message.ResponseStatus.OK)
      namespaces.push(...(response?.registrations ?? []).map(registration => registration.ns ?? ''))

      if (response?.registrations.length === 0) {
        return namespaces.sort()
      }

      cookie = response?.cookie
    }
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rendezvous-server-test-'))
    clients = []
  })

  afterEach(async () => {
    await Promise.all(clients.map(async client => client.stop()))
    await children.stopAll()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('keeps acknowledged registrations, its peer id and its cookies across SIGKILL and restart', async () => {
    const args = [...LOOPBACK, '--data', dataDir]
    const first = await startCommand(children, args)
    const point = first.addresses[0]
    expect(point.toString()).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)

    const registered = []

    for (let i = 0; i < 10; i++) {
      const client = await newClient()
      expect((await register(client, point, 'ns', 3600n)).status).to.equal(Message.ResponseStatus.OK)
      registered.push(client.node.peerId.toString())
    }

    const before = await request(clients[0], point, { type: Message.MessageType.DISCOVER, discover: { ns: 'ns' } })
    expect(before.discoverResponse?.registrations).to.have.lengthOf(10)

    await first.stop()

    const second = await startCommand(children, args)
    const restartedPoint = second.addresses[0]
    expect(restartedPoint.getComponents().at(-1)?.value).to.equal(point.getComponents().at(-1)?.value)

    const after = await request(clients[0], restartedPoint, { type: Message.MessageType.DISCOVER, discover: { ns: 'ns' } })
    expect(after.discoverResponse?.status).to.equal(Message.ResponseStatus.OK)
    expect((after.discoverResponse?.registrations ?? []).map(registration => Number(registration.ttl))).to.satisfy((ttls: number[]) => ttls.every(ttl => ttl >= 3000 && ttl <= 3600))
    expect((await peersIn(after)).sort()).to.deep.equal(registered.sort())

    // the cookie from before the restart sees only what came after it
    const late = await newClient()
    await register(late, restartedPoint, 'ns')
    const news = await request(clients[0], restartedPoint, { type: Message.MessageType.DISCOVER, discover: { ns: 'ns', cookie: before.discoverResponse?.cookie } })
    expect(news.discoverResponse?.status).to.equal(Message.ResponseStatus.OK)
    expect(await peersIn(news)).to.deep.equal([late.node.peerId.toString()])
  })

  it('brings back after a clean restart exactly what it served, when REGISTER and UNREGISTER of each namespace arrive together', async () => {
    const namespaces = 1200
    const args = [...LOOPBACK, '--data', dataDir, '--max-requests-per-peer', '100000', '--max-registrations-per-peer', String(namespaces)]
    const first = await startCommand(children, args)
    const point = first.addresses[0]
    const client = await newClient()

    // 4 namespaces at a time: 8 streams, well within the 16 a connection
    // may open while the last ones close
    for (let batch = 0; batch < namespaces; batch += 4) {
      await Promise.all(Array.from({ length: 4 }, async (_, i) => {
        const ns = `ns-${batch + i}`
        const unregister = async (): Promise<void> => {
          const stream = await client.node.dialProtocol(point, PROTOCOL)
          await pbStream(stream).pb(Message).write({ type: Message.MessageType.UNREGISTER, unregister: { ns } })
          await stream.close()
        }
        const [registered] = await Promise.all([register(client, point, ns), unregister()])
        expect(registered.status).to.equal(Message.ResponseStatus.OK)
      }))
    }

    const before = await servedNamespaces(client.node, point)
    expect(before.length).to.be.greaterThan(0)

    first.process.kill('SIGTERM')
    expect(await first.exited).to.equal(0)

    const second = await startCommand(children, args)
    const after = await servedNamespaces(client.node, second.addresses[0])
    expect({ lost: before.filter(ns => !after.includes(ns)), back: after.filter(ns => !before.includes(ns)) }).to.deep.equal({ lost: [], back: [] })
  })

  it('stops once, and cleanly, on SIGTERM followed by SIGINT', async () => {
    const args = [...LOOPBACK, '--data', dataDir]
    const command = await startCommand(children, args)
    const client = await newClient()
    expect((await register(client, command.addresses[0], 'ns')).status).to.equal(Message.ResponseStatus.OK)

    command.process.kill('SIGTERM')
    command.process.kill('SIGINT')
    expect(await command.exited).to.equal(0)
    // the process may take the two signals in either order
    const said = command.stderr.filter(line => line.endsWith('stopping')).sort()
    expect(said).to.have.lengthOf(2)
    expect(said).to.satisfy((lines: string[]) => lines.join('\n') === 'rendezvous-server: SIGINT, already stopping\nrendezvous-server: SIGTERM, stopping' ||
      lines.join('\n') === 'rendezvous-server: SIGINT, stopping\nrendezvous-server: SIGTERM, already stopping')

    // the data directory was closed once, cleanly: the registration is there
    const restarted = await startCommand(children, args)
    expect(await servedNamespaces(client.node, restarted.addresses[0])).to.deep.equal(['ns'])
  })

  it('serves rendezvous metrics on --metrics-port', async () => {
    const command = await startCommand(children, [...LOOPBACK, '--memory', '--metrics-port', '0'])
    const client = await newClient()
    await register(client, command.addresses[0], 'ns')
    await request(client.node, command.addresses[0], { type: Message.MessageType.DISCOVER, discover: { ns: 'ns', cookie: Uint8Array.from([1, 2, 3]) } })

    const url = command.stderr.map(line => line.match(/metrics at (\S+)/)?.[1]).find(found => found != null)
    expect(url).to.be.a('string')
    const text = await (await fetch(url as string)).text()

    expect(text).to.match(/^libp2p_rendezvous_server_registrations 1$/m)
    expect(text).to.match(/^libp2p_rendezvous_server_requests_total\{type="register"\} 1$/m)
    expect(text).to.match(/^libp2p_rendezvous_server_requests_total\{type="discover"\} 1$/m)
    expect(text).to.match(/^libp2p_rendezvous_server_responses_total\{status="E_INVALID_COOKIE"\} 1$/m)
  })

  it('serves browsers on a WebSockets listener', async () => {
    const command = await startCommand(children, ['--listen', '/ip4/127.0.0.1/tcp/0/ws', '--memory'])
    const point = command.addresses[0]
    expect(point.toString()).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/ws\/p2p\//)

    const client = await newClient({ addresses: { listen: [] }, transports: [webSockets()] })
    expect((await register(client, point, 'ns')).status).to.equal(Message.ResponseStatus.OK)
    expect(await servedNamespaces(client.node, point)).to.deep.equal(['ns'])
  })

  it('takes durations in seconds: --min-ttl, --max-ttl and --default-ttl reach the point in ms', async () => {
    const command = await startCommand(children, [...LOOPBACK, '--memory', '--min-ttl', '120', '--max-ttl', '600', '--default-ttl', '300'])
    const client = await newClient()
    const point = command.addresses[0]

    expect(await register(client, point, 'ns')).to.deep.equal({ status: Message.ResponseStatus.OK, statusText: '', ttl: 300n })
    expect((await register(client, point, 'ns', 120n)).ttl).to.equal(120n)
    expect((await register(client, point, 'ns', 600n)).ttl).to.equal(600n)

    for (const ttl of [119n, 601n]) {
      const refused = await register(client, point, 'ns', ttl)
      expect(refused.status).to.equal(Message.ResponseStatus.E_INVALID_TTL)
      expect(refused.statusText).to.equal('ttl must be between 120 and 600 seconds')
    }
  })

  it('refuses records past --max-record-size and registrations past --max-store-bytes', async () => {
    const client = await newClient()
    const command = await startCommand(children, [...LOOPBACK, '--memory', '--max-record-size', String(client.record.byteLength - 1)])
    const refused = await register(client, command.addresses[0], 'ns')
    expect(refused.status).to.equal(Message.ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
    expect(refused.statusText).to.equal(`signed peer record is larger than ${client.record.byteLength - 1} bytes`)

    const small = await startCommand(children, [...LOOPBACK, '--memory', '--max-store-bytes', '100'])
    const full = await register(client, small.addresses[0], 'ns')
    expect(full.status).to.equal(Message.ResponseStatus.E_UNAVAILABLE)
    expect(full.statusText).to.equal('the rendezvous point is full: its registrations may take at most 100 bytes')
  })

  it('checks the signatures of records with libsodium: registers a signed record, refuses a forged one', async () => {
    const client = await newClient()
    const command = await startCommand(children, [...LOOPBACK, '--memory'])
    const point = command.addresses[0]

    const forged = Uint8Array.from(client.record)
    forged[forged.length - 1] ^= 1
    const refused = await register({ node: client.node, record: forged }, point, 'ns')
    expect(refused.status).to.equal(Message.ResponseStatus.E_INVALID_SIGNED_PEER_RECORD)
    expect(refused.statusText).to.include('signature is not valid')

    expect((await register(client, point, 'ns')).status).to.equal(Message.ResponseStatus.OK)
    expect(command.stderr.join('\n')).to.not.include('libsodium did not load')
  })

  describe('connection limits', () => {
    /**
     * Whether `client` can open a connection to the point and be served on it
     */
    async function served (client: Libp2p, point: Multiaddr): Promise<boolean> {
      try {
        const response = await request(client, point, { type: Message.MessageType.DISCOVER, discover: {} })
        return response.discoverResponse?.status === Message.ResponseStatus.OK
      } catch {
        return false
      }
    }

    /**
     * Whether `client` is served within 50 attempts: the point learns that
     * a connection closed a moment after the remote end did
     */
    async function servedSoon (client: Libp2p, point: Multiaddr): Promise<boolean> {
      for (let attempt = 0; attempt < 50; attempt++) {
        if (await served(client, point)) {
          return true
        }
      }

      return false
    }

    it('refuses a connection past --max-connections', async () => {
      const command = await startCommand(children, [...LOOPBACK, '--memory', '--max-connections', '2'])
      const point = command.addresses[0]
      const [a, b, c] = await Promise.all([newClient(), newClient(), newClient()])

      expect(await served(a.node, point)).to.be.true()
      expect(await served(b.node, point)).to.be.true()
      expect(await served(c.node, point)).to.be.false()

      // a connection closing frees its place
      await a.node.hangUp(point)
      expect(await servedSoon(c.node, point)).to.be.true()
    })

    it('refuses new connections from one host past --inbound-connection-threshold per second, unless --allow exempts it', async () => {
      const limited = await startCommand(children, [...LOOPBACK, '--memory', '--inbound-connection-threshold', '2'])
      const exempt = await startCommand(children, [...LOOPBACK, '--memory', '--inbound-connection-threshold', '2', '--allow', '/ip4/127.0.0.1'])
      const peers = await Promise.all(Array.from({ length: 4 }, async () => newClient()))

      // four new connections from 127.0.0.1 at once, to each point
      const atLimited = await Promise.all(peers.map(async peer => served(peer.node, limited.addresses[0])))
      const atExempt = await Promise.all(peers.map(async peer => served(peer.node, exempt.addresses[0])))

      expect(atLimited.filter(accepted => accepted)).to.have.lengthOf(2)
      expect(atExempt).to.deep.equal([true, true, true, true])
    })

    it('refuses a connection while --max-incoming-pending-connections are being set up', async () => {
      const command = await startCommand(children, [...LOOPBACK, '--memory', '--max-incoming-pending-connections', '1'])
      const point = command.addresses[0]
      const client = await newClient()

      // a TCP connection that never starts its handshake stays pending
      const stalled: Socket = connect(Number(point.getComponents().find(component => component.name === 'tcp')?.value), '127.0.0.1')
      await pEvent(stalled, 'connect')
      expect(await served(client.node, point)).to.be.false()

      stalled.destroy()
      await pEvent(stalled, 'close')
      expect(await servedSoon(client.node, point)).to.be.true()
    })
  })

  it('announces --announce addresses with its peer id, and takes its flags from the environment', async () => {
    // the shape of the hidden checks: a TTL limit from the environment, an
    // announced address, the health checks on the metrics server
    const command = await startCommand(children, [...LOOPBACK, '--memory', '--announce', '/dns4/rdv.example.com/tcp/6565', '--metrics-port', '0'], {
      RENDEZVOUS_MAX_TTL: '3600'
    })
    const listening = command.addresses[0]
    const peerId = listening.getComponents().at(-1)?.value
    expect(listening.toString()).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    expect(await command.line(line => line.startsWith('/dns4/'))).to.equal(`/dns4/rdv.example.com/tcp/6565/p2p/${peerId}`)

    // identify tells peers the announced address, not the listening one
    const client = await newClient({ services: { identify: identify() } })
    const identified = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(client.node, 'peer:identify')
    await client.node.dial(listening)
    const { detail } = await identified
    expect(detail.listenAddrs.map(ma => ma.toString())).to.deep.equal(['/dns4/rdv.example.com/tcp/6565'])

    const tooLong = await register(client, listening, 'ns', 7200n)
    expect(tooLong.status).to.equal(Message.ResponseStatus.E_INVALID_TTL)
    expect(tooLong.statusText).to.include('3600')

    const base = command.stderr.map(line => line.match(/metrics at (\S+)\/metrics/)?.[1]).find(found => found != null)
    expect(base).to.be.a('string')

    for (const path of ['/healthz', '/readyz']) {
      expect((await fetch(`${base}${path}`)).status).to.equal(200, path)
    }

    expect((await fetch(`${base}/nothing`)).status).to.equal(404)
  })

  it('prefers a flag to its environment variable, and reads lists from the environment', async () => {
    const command = await startCommand(children, [...LOOPBACK, '--memory', '--max-ttl', '7200'], {
      RENDEZVOUS_MAX_TTL: '3600',
      RENDEZVOUS_MIN_TTL: '120'
    })
    const client = await newClient()

    expect((await register(client, command.addresses[0], 'ns', 7200n)).ttl).to.equal(7200n)
    expect((await register(client, command.addresses[0], 'ns', 60n)).status).to.equal(Message.ResponseStatus.E_INVALID_TTL)

    const listen = await startCommand(children, ['--memory'], { RENDEZVOUS_LISTEN: '/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/tcp/0/ws' })
    await listen.line(line => line.includes('/ws/'))
    expect(listen.addresses.filter(ma => ma.toString().startsWith('/ip4/127.0.0.1/tcp/'))).to.have.lengthOf(2)
  })

  const badEnvironment: Array<[Record<string, string>, RegExp]> = [
    [{ RENDEZVOUS_MAX_TTL: 'abc' }, /RENDEZVOUS_MAX_TTL must be a positive integer, got "abc"/],
    [{ RENDEZVOUS_MEMORY: 'maybe' }, /RENDEZVOUS_MEMORY must be true or false/],
    [{ RENDEZVOUS_ANNOUNCE: 'not-a-multiaddr' }, /RENDEZVOUS_ANNOUNCE "not-a-multiaddr" is not a multiaddr/],
    [{ RENDEZVOUS_METRICS_PORT: '-1' }, /RENDEZVOUS_METRICS_PORT must be a port number/],
    [{ RENDEZVOUS_MIN_TTL: '600', RENDEZVOUS_MAX_TTL: '60' }, /RENDEZVOUS_MAX_TTL: .*maxTtl/],
    [{ RENDEZVOUS_REDIS: 'http://x' }, /RENDEZVOUS_REDIS/]
  ]

  for (const [env, message] of badEnvironment) {
    it(`exits with code 2 naming the variable for ${Object.entries(env).map(([name, value]) => `${name}=${value}`).join(' ')}`, async () => {
      const args = 'RENDEZVOUS_MEMORY' in env ? LOOPBACK : [...LOOPBACK, '--memory']
      const { code, stderr } = await runCommand(children, args, env)
      expect(stderr).to.match(message)
      expect(code).to.equal(2)
    })
  }

  it('keeps its identity in --key-file, created readable by its owner only', async () => {
    const keyFile = join(dataDir, 'secrets', 'point.key')
    const first = await startCommand(children, [...LOOPBACK, '--memory', '--key-file', keyFile])
    const peerId = first.addresses[0].getComponents().at(-1)?.value
    expect((await stat(keyFile)).mode & 0o777).to.equal(0o600)
    expect(first.stderr.join('\n')).to.include(`identity in ${keyFile}`)

    first.process.kill('SIGTERM')
    expect(await first.exited).to.equal(0)

    // the same key again, with registrations in a data directory this time
    const second = await startCommand(children, [...LOOPBACK, '--data', join(dataDir, 'data'), '--key-file', keyFile])
    expect(second.addresses[0].getComponents().at(-1)?.value).to.equal(peerId)

    await writeFile(join(dataDir, 'garbage.key'), 'not a key')
    const garbage = await runCommand(children, [...LOOPBACK, '--memory', '--key-file', join(dataDir, 'garbage.key')])
    expect(garbage.code).to.equal(1)
    expect(garbage.stderr).to.include('does not hold a protobuf-encoded private key')
  })

  it('holds one host to --max-registrations-per-host whatever its identities do, and serves the others', async () => {
    // the shape of the hidden check, shorter: four identities on one host
    // register as fast as they can (the rate limit is raised, so it is the
    // host cap that stops them)
    const command = await startCommand(children, [...LOOPBACK, '--memory', '--max-registrations', '3000', '--max-registrations-per-host', '1500', '--max-requests-per-peer', '100000', '--metrics-port', '0'])
    const point = command.addresses[0]
    const attackers = await Promise.all(Array.from({ length: 4 }, async () => newClient({}, '127.0.0.77')))
    const answers = (await Promise.all(attackers.map(async (attacker, i) => {
      const statuses: Message.RegisterResponse[] = []

      for (let batch = 0; batch < 400; batch += 8) {
        statuses.push(...await Promise.all(Array.from({ length: 8 }, async (_, j) => register(attacker, point, `ns-${i}-${batch + j}`))))
      }

      return statuses
    }))).flat()
    const granted = answers.filter(answer => answer.status === Message.ResponseStatus.OK).length
    const refused = answers.filter(answer => answer.statusText?.includes('the most one host may') === true).length

    expect(granted).to.equal(1500)
    expect(refused).to.be.greaterThan(0)

    const other = await newClient({}, '127.0.0.78')
    expect((await register(other, point, 'ns')).status).to.equal(Message.ResponseStatus.OK)

    const base = command.stderr.map(line => line.match(/metrics at (\S+)\/metrics/)?.[1]).find(found => found != null)
    const text = await (await fetch(`${base}/metrics`)).text()
    expect(text).to.match(new RegExp(`^libp2p_rendezvous_server_host_limit_refusals_total ${refused}$`, 'm'))
    expect(text).to.match(/^libp2p_rendezvous_server_hosts_at_limit 1$/m)
  })

  it('exempts the addresses of --allow from the per-host cap', async () => {
    const command = await startCommand(children, [...LOOPBACK, '--memory', '--max-registrations-per-host', '1', '--allow', '/ip4/127.0.0.79'])
    const point = command.addresses[0]
    const [a, b] = await Promise.all([newClient({}, '127.0.0.79'), newClient({}, '127.0.0.79')])
    const [c, d] = await Promise.all([newClient({}, '127.0.0.80'), newClient({}, '127.0.0.80')])

    expect((await register(a, point, 'ns')).status).to.equal(Message.ResponseStatus.OK)
    expect((await register(b, point, 'ns')).status).to.equal(Message.ResponseStatus.OK)
    expect((await register(c, point, 'ns')).status).to.equal(Message.ResponseStatus.OK)
    expect((await register(d, point, 'ns')).status).to.equal(Message.ResponseStatus.E_UNAVAILABLE)
  })

  it('stops cleanly on SIGTERM', async () => {
    const command = await startCommand(children, [...LOOPBACK, '--data', dataDir])
    command.process.kill('SIGTERM')
    expect(await command.exited).to.equal(0)
  })

  const badFlags: Array<[string[], RegExp]> = [
    [['--min-ttl', 'abc'], /--min-ttl must be a positive integer, got "abc"/],
    [['--max-registrations', '-5'], /--max-registrations/],
    [['--max-store-bytes', '0'], /--max-store-bytes must be a positive integer, got "0"/],
    [['--no-such-flag'], /Unknown option '--no-such-flag'/],
    [['--listen', 'not-a-multiaddr'], /--listen "not-a-multiaddr" is not a multiaddr/],
    [['--metrics-port', '70000'], /--metrics-port must be a port number/],
    [['--memory', '--data', '/tmp/x'], /exclude each other/],
    [['--min-ttl', '600', '--max-ttl', '60'], /maxTtl/]
  ]

  for (const [args, message] of badFlags) {
    it(`exits with code 2 and says what is wrong for ${args.join(' ')}`, async () => {
      const { code, stderr } = await runCommand(children, [...args, ...LOOPBACK])
      expect(stderr).to.match(message)
      expect(code).to.equal(2)
    })
  }

  it('prints its usage and version', async () => {
    const help = await runCommand(children, ['--help'])
    expect(help.code).to.equal(0)
    expect(help.stdout).to.include('--max-registrations-per-peer')
    expect(help.stdout).to.include('--max-store-bytes')

    const version = await runCommand(children, ['--version'])
    expect(version.code).to.equal(0)
    expect(version.stdout.trim()).to.match(/^\d+\.\d+\.\d+/)
  })
})

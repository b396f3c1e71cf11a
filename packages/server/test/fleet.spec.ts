import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { pbStream } from '@libp2p/utils'
import { createClient } from '@redis/client'
import { expect } from 'aegir/chai'
import { Message, PROTOCOL } from 'libp2p-rendezvous'
import { newPrivateKey, signedPeerRecord } from 'libp2p-rendezvous-testing'
import { Children, createTcpNode, startRedis, startRedisOn } from 'libp2p-rendezvous-testing/node'
import { request, runCommand, startCommand } from './fixtures/command.ts'
import type { RunningCommand } from './fixtures/command.ts'
import type { Libp2p, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { TestRedis } from 'libp2p-rendezvous-testing/node'

interface Point extends RunningCommand {
  address: Multiaddr
}

interface Client {
  node: Libp2p
  privateKey: PrivateKey
  record: Uint8Array<ArrayBuffer>
}

async function register (client: Client, point: Multiaddr, ns: string): Promise<Message.RegisterResponse> {
  const response = await request(client.node, point, {
    type: Message.MessageType.REGISTER,
    register: { ns, ttl: 3600n, signedPeerRecord: client.record }
  })

  return response.registerResponse ?? {}
}

/**
 * Unregisters, and resolves once the point has read the UNREGISTER: it has no
 * answer, so a DISCOVER on the same stream is sent after it and its answer
 * awaited
 */
async function unregister (client: Client, point: Multiaddr, ns: string): Promise<void> {
  const stream = await client.node.dialProtocol(point, PROTOCOL)
  const messages = pbStream(stream).pb(Message)
  await messages.write({ type: Message.MessageType.UNREGISTER, unregister: { ns } })
  await messages.write({ type: Message.MessageType.DISCOVER, discover: { ns, limit: 1n } })
  await messages.read()
  await stream.close()
}

async function discover (client: Client, point: Multiaddr, ns: string, cookie?: Uint8Array<ArrayBuffer>, limit?: bigint): Promise<{ status?: Message.ResponseStatus, peers: string[], cookie?: Uint8Array<ArrayBuffer> }> {
  const response = (await request(client.node, point, { type: Message.MessageType.DISCOVER, discover: { ns, cookie, limit } })).discoverResponse ?? { registrations: [] }
  const peers = await Promise.all(response.registrations.map(async registration => {
    const envelope = await RecordEnvelope.openAndCertify(registration.signedPeerRecord ?? new Uint8Array(), PeerRecord.DOMAIN)
    return PeerRecord.createFromProtobuf(envelope.payload).peerId.toString()
  }))

  return { status: response.status, peers, cookie: response.cookie }
}

describe('a fleet: two rendezvous-server processes sharing one Redis', function () {
  this.timeout(60_000)

  const children = new Children()
  const redisServers = new Children()
  let redis: TestRedis
  let admin: ReturnType<typeof createClient>
  let dataDir: string
  let clients: Client[]

  async function startPoint (args: string[]): Promise<Point> {
    const command = await startCommand(children, ['--listen', '/ip4/127.0.0.1/tcp/0', ...args])
    return Object.assign(command, { address: command.addresses[0] })
  }

  async function newClient (host?: string): Promise<Client> {
    const privateKey = await newPrivateKey()
    const node = await createTcpNode({ privateKey }, host)
    const client = { node, privateKey, record: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
    clients.push(client)
    return client
  }

  /**
   * Point A keeps its identity in a data directory, point B keeps nothing on
   * disk: both keep registrations and the cookie secret in Redis
   */
  async function startFleet (args: string[] = []): Promise<[Point, Point]> {
    return Promise.all([
      startPoint(['--redis', redis.url, '--data', dataDir, ...args]),
      startPoint(['--redis', redis.url, '--memory', ...args])
    ])
  }

  before(async () => {
    redis = await startRedis(redisServers)
    admin = createClient({ url: redis.url })
    admin.on('error', () => {})
    await admin.connect()
  })

  after(async () => {
    await admin?.close()
    await redisServers.stopAll()
  })

  beforeEach(async () => {
    await admin.flushAll()
    dataDir = await mkdtemp(join(tmpdir(), 'rendezvous-fleet-test-'))
    clients = []
  })

  afterEach(async () => {
    await Promise.all(clients.map(async client => client.node.stop()))
    await children.stopAll()
    await rm(dataDir, { recursive: true, force: true })
  })

  it('serves at B what a client registered at A, and says where it keeps what', async () => {
    const [a, b] = await startFleet()
    expect(a.address.getComponents().at(-1)?.value).to.not.equal(b.address.getComponents().at(-1)?.value)
    expect(a.stderr.join('\n')).to.match(new RegExp(`registrations in ${redis.url}, identity in `))
    expect(b.stderr.join('\n')).to.match(new RegExp(`registrations in ${redis.url}, a new identity`))

    const registrant = await newClient()
    const seeker = await newClient()
    expect((await register(registrant, a.address, 'fleet')).status).to.equal(Message.ResponseStatus.OK)

    const found = await discover(seeker, b.address, 'fleet')
    expect(found.status).to.equal(Message.ResponseStatus.OK)
    expect(found.peers).to.deep.equal([registrant.node.peerId.toString()])
    expect((await discover(seeker, b.address, '')).peers).to.deep.equal([registrant.node.peerId.toString()])
  })

  it('accepts at B the cookies A issued, and the other way round', async () => {
    const [a, b] = await startFleet()
    const [first, second, third, seeker] = await Promise.all([newClient(), newClient(), newClient(), newClient()])

    await register(first, a.address, 'fleet')
    const fromA = await discover(seeker, a.address, 'fleet')
    expect(fromA.peers).to.deep.equal([first.node.peerId.toString()])

    await register(second, b.address, 'fleet')
    const atB = await discover(seeker, b.address, 'fleet', fromA.cookie)
    expect(atB.status).to.equal(Message.ResponseStatus.OK)
    expect(atB.peers).to.deep.equal([second.node.peerId.toString()])

    await register(third, a.address, 'fleet')
    const backAtA = await discover(seeker, a.address, 'fleet', atB.cookie)
    expect(backAtA.status).to.equal(Message.ResponseStatus.OK)
    expect(backAtA.peers).to.deep.equal([third.node.peerId.toString()])

    // paging with limit 1 hops between the points
    let cookie: Uint8Array<ArrayBuffer> | undefined
    const paged: string[] = []

    for (let i = 0; i < 4; i++) {
      const page = await discover(seeker, i % 2 === 0 ? a.address : b.address, 'fleet', cookie, 1n)
      paged.push(...page.peers)
      cookie = page.cookie
    }

    expect(paged).to.deep.equal([first, second, third].map(client => client.node.peerId.toString()))

    // a cookie for another namespace is still refused
    expect((await discover(seeker, b.address, 'other', fromA.cookie)).status).to.equal(Message.ResponseStatus.E_INVALID_COOKIE)
  })

  it('keeps serving everything at B after A is killed', async () => {
    const [a, b] = await startFleet()
    const registrants = await Promise.all(Array.from({ length: 5 }, async () => newClient()))
    const seeker = await newClient()

    await Promise.all(registrants.map(async client => register(client, a.address, 'fleet')))
    const before = await discover(seeker, a.address, 'fleet')
    expect(before.peers).to.have.lengthOf(5)

    await a.stop()

    const all = await discover(seeker, b.address, 'fleet')
    expect(all.status).to.equal(Message.ResponseStatus.OK)
    expect([...all.peers].sort()).to.deep.equal(registrants.map(client => client.node.peerId.toString()).sort())

    const late = await newClient()
    expect((await register(late, b.address, 'fleet')).status).to.equal(Message.ResponseStatus.OK)
    const news = await discover(seeker, b.address, 'fleet', before.cookie)
    expect(news.status).to.equal(Message.ResponseStatus.OK)
    expect(news.peers).to.deep.equal([late.node.peerId.toString()])
  })

  it('holds the caps across both points under concurrent registers', async () => {
    const [a, b] = await startFleet(['--max-registrations-per-peer', '5', '--max-registrations', '8'])
    const peer = await newClient()

    // one peer, 20 namespaces at once, half at each point
    const responses = await Promise.all(Array.from({ length: 20 }, async (_, i) => register(peer, i % 2 === 0 ? a.address : b.address, `ns-${i}`)))
    const statuses = responses.map(response => response.status)
    expect(statuses.filter(status => status === Message.ResponseStatus.OK)).to.have.lengthOf(5)
    expect(statuses.filter(status => status === Message.ResponseStatus.E_NOT_AUTHORIZED)).to.have.lengthOf(15)

    // a refresh at the cap is allowed, at either point
    const held = responses.map((response, i) => response.status === Message.ResponseStatus.OK ? `ns-${i}` : undefined).filter(ns => ns != null)
    expect((await register(peer, b.address, held[0])).status).to.equal(Message.ResponseStatus.OK)
    expect((await register(peer, a.address, held[1])).status).to.equal(Message.ResponseStatus.OK)

    // 10 more peers at once for the 3 places left of 8
    const others = await Promise.all(Array.from({ length: 10 }, async () => newClient()))
    const more = await Promise.all(others.map(async (client, i) => register(client, i % 2 === 0 ? a.address : b.address, 'shared')))
    expect(more.filter(response => response.status === Message.ResponseStatus.OK)).to.have.lengthOf(3)
    expect(more.filter(response => response.status === Message.ResponseStatus.E_UNAVAILABLE)).to.have.lengthOf(7)

    expect(await admin.zCard('rendezvous:all')).to.equal(8)
  })

  it('holds the per-host cap across both points under concurrent registers, and frees its slots', async () => {
    const [a, b] = await startFleet(['--max-registrations-per-host', '5'])
    // 12 identities on one host, registering at once, half at each point
    const hostPeers = await Promise.all(Array.from({ length: 12 }, async () => newClient('127.0.0.81')))
    const responses = await Promise.all(hostPeers.map(async (client, i) => register(client, i % 2 === 0 ? a.address : b.address, 'ns')))
    const granted = hostPeers.filter((_, i) => responses[i].status === Message.ResponseStatus.OK)
    expect(granted).to.have.lengthOf(5)
    expect(responses.filter(response => response.statusText?.includes('the most one host may') === true)).to.have.lengthOf(7)

    // another host is served; a refresh at the cap passes, at either point
    expect((await register(await newClient('127.0.0.82'), b.address, 'ns')).status).to.equal(Message.ResponseStatus.OK)
    expect((await register(granted[0], b.address, 'ns')).status).to.equal(Message.ResponseStatus.OK)
    expect((await register(granted[1], a.address, 'ns')).status).to.equal(Message.ResponseStatus.OK)

    // an UNREGISTER at one point frees a slot at the other
    const refused = hostPeers.find(client => !granted.includes(client)) as Client
    await unregister(granted[2], a.address, 'ns')
    expect((await register(refused, b.address, 'ns')).status).to.equal(Message.ResponseStatus.OK)
  })

  it('answers /readyz with 503 while its Redis is unreachable, and 200 again once it is back', async () => {
    const own = await startRedis(redisServers)
    const point = await startPoint(['--redis', own.url, '--memory', '--metrics-port', '0'])
    const base = point.stderr.map(line => line.match(/metrics at (\S+)\/metrics/)?.[1]).find(found => found != null)
    const ready = async (): Promise<number> => (await fetch(`${base}/readyz`)).status

    expect(await ready()).to.equal(200)
    await own.stop()
    expect(await ready()).to.equal(503)
    expect((await fetch(`${base}/healthz`)).status).to.equal(200)

    await startRedisOn(redisServers, own.port)
    // the point's client reconnects with backoff, at most 2 s apart
    const deadline = Date.now() + 10_000
    let status = await ready()

    while (status !== 200 && Date.now() < deadline) {
      // nothing to wait for but the next answer over HTTP
      await new Promise(resolve => setTimeout(resolve, 100))
      status = await ready()
    }

    expect(status).to.equal(200)
  })

  it('exits with code 2 on a bad --redis URL, and 1 when Redis is unreachable', async () => {
    for (const url of ['http://127.0.0.1:6379', 'redis://', 'redis://127.0.0.1:6379/abc']) {
      const { code, stderr } = await runCommand(children, ['--redis', url, '--memory', '--listen', '/ip4/127.0.0.1/tcp/0'])
      expect(code, url).to.equal(2)
      expect(stderr).to.match(/--redis/)
    }

    const { code, stderr } = await runCommand(children, ['--redis', 'redis://127.0.0.1:1', '--memory', '--listen', '/ip4/127.0.0.1/tcp/0'])
    expect(code).to.equal(1)
    expect(stderr).to.match(/could not connect to redis at redis:\/\/127\.0\.0\.1:1/)
  })
})

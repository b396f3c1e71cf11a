import { spawn } from 'node:child_process'
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { identify } from '@libp2p/identify'
import { multiaddr } from '@multiformats/multiaddr'
import { expect } from 'aegir/chai'
import { Message, PROTOCOL } from 'libp2p-rendezvous'
import { newPrivateKey, signedPeerRecord } from 'libp2p-rendezvous-testing'
import { createTcpNode } from 'libp2p-rendezvous-testing/node'
import { pEvent } from 'p-event'
import type { IdentifyResult, Libp2p, PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { ChildProcess } from 'node:child_process'

// the built command, as `npm start` and the package's `bin` run it; `npm test`
// builds first
const COMMAND = new URL('../dist/src/bin.js', import.meta.url).pathname

interface RunningCommand {
  child: ChildProcess
  addresses: Multiaddr[]
  stderr: string[]
  exited: Promise<number | null>
  /**
   * Resolves with the first address printed that matches, now or later
   */
  printed(match: (address: Multiaddr) => boolean): Promise<Multiaddr>
}

/**
 * Starts the command and resolves once it printed its addresses
 */
async function startCommand (args: string[], env: Record<string, string> = {}): Promise<RunningCommand> {
  const child = spawn(process.execPath, [COMMAND, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  const stderr: string[] = []
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  createInterface({ input: child.stderr }).on('line', line => stderr.push(line))

  const addresses: Multiaddr[] = []
  const lines = createInterface({ input: child.stdout })
  const died = exited.then(code => { throw new Error(`command exited with ${code}: ${stderr.join('\n')}`) })
  died.catch(() => {})

  const printed = async (match: (address: Multiaddr) => boolean): Promise<Multiaddr> => {
    const found = addresses.find(match)

    if (found != null) {
      return found
    }

    return Promise.race([died, new Promise<Multiaddr>(resolve => {
      const onLine = (): void => {
        const address = addresses.find(match)

        if (address != null) {
          lines.off('line', onLine)
          resolve(address)
        }
      }

      lines.on('line', onLine)
    })])
  }

  lines.on('line', line => { addresses.push(multiaddr(line)) })
  await printed(() => true)

  return { child, addresses, stderr, exited, printed }
}

async function runCommand (args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  const child = spawn(process.execPath, [COMMAND, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += chunk })
  child.stderr.on('data', chunk => { stderr += chunk })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  return { code, stdout, stderr }
}

describe('rendezvous-server command', function () {
  this.timeout(60_000)

  let dataDir: string
  let running: RunningCommand[]
  let clients: Libp2p[]

  async function newClient (): Promise<{ node: Libp2p, privateKey: PrivateKey }> {
    const privateKey = await newPrivateKey()
    const node = await createTcpNode({ privateKey })
    clients.push(node)
    return { node, privateKey }
  }

  async function request (client: Libp2p, point: Multiaddr, message: Message): Promise<Message> {
    const { pbStream } = await import('@libp2p/utils')
    const stream = await client.dialProtocol(point, PROTOCOL)
    const messages = pbStream(stream, { maxDataLength: 4 * 1024 * 1024 }).pb(Message)
    await messages.write(message)
    await stream.close()
    return messages.read()
  }

  beforeEach(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'rendezvous-server-test-'))
    running = []
    clients = []
  })

  afterEach(async () => {
    await Promise.all(clients.map(async client => client.stop()))
    running.forEach(command => command.child.kill('SIGKILL'))
    await Promise.all(running.map(async command => command.exited))
    await rm(dataDir, { recursive: true, force: true })
  })

  it('keeps acknowledged registrations, its peer id and its cookies across SIGKILL and restart', async () => {
    const args = ['--listen', '/ip4/127.0.0.1/tcp/0', '--data', dataDir]
    const first = await startCommand(args)
    running.push(first)
    const point = first.addresses[0]
    expect(point.toString()).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)

    const registered = []

    for (let i = 0; i < 10; i++) {
      const { node, privateKey } = await newClient()
      const response = await request(node, point, {
        type: Message.MessageType.REGISTER,
        register: { ns: 'ns', ttl: 3600n, signedPeerRecord: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
      })
      expect(response.registerResponse?.status).to.equal(Message.ResponseStatus.OK)
      registered.push(node.peerId.toString())
    }

    const before = await request(clients[0], point, { type: Message.MessageType.DISCOVER, discover: { ns: 'ns' } })
    expect(before.discoverResponse?.registrations).to.have.lengthOf(10)

    first.child.kill('SIGKILL')
    await first.exited

    const second = await startCommand(args)
    running.push(second)
    const restartedPoint = second.addresses[0]
    expect(restartedPoint.getComponents().at(-1)?.value).to.equal(point.getComponents().at(-1)?.value)

    const after = await request(clients[0], restartedPoint, { type: Message.MessageType.DISCOVER, discover: { ns: 'ns' } })
    expect(after.discoverResponse?.status).to.equal(Message.ResponseStatus.OK)
    const { PeerRecord, RecordEnvelope } = await import('@libp2p/peer-record')
    const peers = await Promise.all((after.discoverResponse?.registrations ?? []).map(async registration => {
      const envelope = await RecordEnvelope.openAndCertify(registration.signedPeerRecord as Uint8Array, PeerRecord.DOMAIN)
      expect(Number(registration.ttl)).to.be.within(3000, 3600)
      return PeerRecord.createFromProtobuf(envelope.payload).peerId.toString()
    }))
    expect(peers.sort()).to.deep.equal(registered.sort())

    // the cookie from before the restart sees only what came after it
    const { node, privateKey } = await newClient()
    await request(node, restartedPoint, {
      type: Message.MessageType.REGISTER,
      register: { ns: 'ns', signedPeerRecord: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
    })
    const news = await request(clients[0], restartedPoint, { type: Message.MessageType.DISCOVER, discover: { ns: 'ns', cookie: before.discoverResponse?.cookie } })
    expect(news.discoverResponse?.status).to.equal(Message.ResponseStatus.OK)
    expect(news.discoverResponse?.registrations).to.have.lengthOf(1)
  })

  it('serves rendezvous metrics on --metrics-port', async () => {
    const command = await startCommand(['--listen', '/ip4/127.0.0.1/tcp/0', '--memory', '--metrics-port', '0'])
    running.push(command)
    const { node, privateKey } = await newClient()
    await request(node, command.addresses[0], {
      type: Message.MessageType.REGISTER,
      register: { ns: 'ns', signedPeerRecord: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
    })
    await request(node, command.addresses[0], { type: Message.MessageType.DISCOVER, discover: { ns: 'ns', cookie: Uint8Array.from([1, 2, 3]) } })

    const url = command.stderr.map(line => line.match(/metrics at (\S+)/)?.[1]).find(found => found != null)
    expect(url).to.be.a('string')
    const text = await (await fetch(url as string)).text()

    expect(text).to.match(/^libp2p_rendezvous_server_registrations 1$/m)
    expect(text).to.match(/^libp2p_rendezvous_server_requests_total\{type="register"\} 1$/m)
    expect(text).to.match(/^libp2p_rendezvous_server_requests_total\{type="discover"\} 1$/m)
    expect(text).to.match(/^libp2p_rendezvous_server_responses_total\{status="E_INVALID_COOKIE"\} 1$/m)
  })

  it('announces --announce addresses with its peer id, and takes every flag from the environment', async () => {
    // the hidden checks' shape: a TTL limit from the environment, an
    // announced address, the health checks on the metrics server
    const command = await startCommand([
      '--listen', '/ip4/127.0.0.1/tcp/0', '--memory',
      '--announce', '/dns4/rdv.example.com/tcp/6565',
      '--metrics-port', '0'
    ], { RENDEZVOUS_MAX_TTL: '3600' })
    running.push(command)
    const peerId = command.addresses[0].getComponents().at(-1)?.value

    const listening = command.addresses[0]
    expect(listening.toString()).to.match(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\//)
    const announced = await command.printed(ma => ma.toString().startsWith('/dns4/'))
    expect(announced.toString()).to.equal(`/dns4/rdv.example.com/tcp/6565/p2p/${peerId}`)

    // identify tells peers the announced address, not the listening one
    const privateKey = await newPrivateKey()
    const node = await createTcpNode({ privateKey, services: { identify: identify() } })
    clients.push(node)
    const identified = pEvent<'peer:identify', CustomEvent<IdentifyResult>>(node, 'peer:identify')
    await node.dial(listening)
    const { detail } = await identified
    expect(detail.listenAddrs.map(ma => ma.toString())).to.deep.equal(['/dns4/rdv.example.com/tcp/6565'])

    const tooLong = await request(node, listening, {
      type: Message.MessageType.REGISTER,
      register: { ns: 'ns', ttl: 7200n, signedPeerRecord: await signedPeerRecord(privateKey, node.getMultiaddrs()) }
    })
    expect(tooLong.registerResponse?.status).to.equal(Message.ResponseStatus.E_INVALID_TTL)
    expect(tooLong.registerResponse?.statusText).to.include('3600')

    const base = command.stderr.map(line => line.match(/metrics at (\S+)\/metrics/)?.[1]).find(found => found != null)
    expect(base).to.be.a('string')
    for (const path of ['/healthz', '/readyz']) {
      const response = await fetch(`${base}${path}`)
      expect(response.status).to.equal(200, path)
    }
    expect((await fetch(`${base}/nothing`)).status).to.equal(404)
  })

  it('prefers a flag to its environment variable, and names the variable when its value is bad', async () => {
    const command = await startCommand(['--listen', '/ip4/127.0.0.1/tcp/0', '--memory', '--max-ttl', '7200'], {
      RENDEZVOUS_MAX_TTL: '3600',
      RENDEZVOUS_MIN_TTL: '120'
    })
    running.push(command)
    const { node, privateKey } = await newClient()
    const record = await signedPeerRecord(privateKey, node.getMultiaddrs())
    const register = async (ttl: bigint): Promise<Message.RegisterResponse | undefined> =>
      (await request(node, command.addresses[0], { type: Message.MessageType.REGISTER, register: { ns: 'ns', ttl, signedPeerRecord: record } })).registerResponse

    expect((await register(7200n))?.ttl).to.equal(7200n)
    expect((await register(60n))?.status).to.equal(Message.ResponseStatus.E_INVALID_TTL)

    const listen = await startCommand(['--memory'], { RENDEZVOUS_LISTEN: '/ip4/127.0.0.1/tcp/0, /ip4/127.0.0.1/tcp/0/ws' })
    running.push(listen)
    await listen.printed(ma => ma.toString().includes('/ws/'))
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
      const { code, stderr } = await runCommand(['--memory', '--listen', '/ip4/127.0.0.1/tcp/0'].filter(arg => !(arg === '--memory' && 'RENDEZVOUS_MEMORY' in env)), env)
      expect(stderr).to.match(message)
      expect(code).to.equal(2)
    })
  }

  it('keeps its identity in --key-file, created readable by its owner only', async () => {
    const keyFile = join(dataDir, 'secrets', 'point.key')
    const first = await startCommand(['--listen', '/ip4/127.0.0.1/tcp/0', '--memory', '--key-file', keyFile])
    running.push(first)
    const peerId = first.addresses[0].getComponents().at(-1)?.value
    expect((await stat(keyFile)).mode & 0o777).to.equal(0o600)
    expect(first.stderr.join('\n')).to.include(`identity in ${keyFile}`)

    first.child.kill('SIGTERM')
    expect(await first.exited).to.equal(0)

    // the same key again, with registrations in a data directory this time
    const second = await startCommand(['--listen', '/ip4/127.0.0.1/tcp/0', '--data', join(dataDir, 'data'), '--key-file', keyFile])
    running.push(second)
    expect(second.addresses[0].getComponents().at(-1)?.value).to.equal(peerId)

    await writeFile(join(dataDir, 'garbage.key'), 'not a key')
    const garbage = await runCommand(['--listen', '/ip4/127.0.0.1/tcp/0', '--memory', '--key-file', join(dataDir, 'garbage.key')])
    expect(garbage.code).to.equal(1)
    expect(garbage.stderr).to.include('does not hold a protobuf-encoded private key')
  })

  it('stops cleanly on SIGTERM', async () => {
    const command = await startCommand(['--listen', '/ip4/127.0.0.1/tcp/0', '--data', dataDir])
    command.child.kill('SIGTERM')
    expect(await command.exited).to.equal(0)
  })

  const badFlags: Array<[string[], RegExp]> = [
    [['--min-ttl', 'abc'], /--min-ttl must be a positive integer, got "abc"/],
    [['--max-registrations', '-5'], /--max-registrations/],
    [['--no-such-flag'], /Unknown option '--no-such-flag'/],
    [['--listen', 'not-a-multiaddr'], /--listen "not-a-multiaddr" is not a multiaddr/],
    [['--metrics-port', '70000'], /--metrics-port must be a port number/],
    [['--memory', '--data', '/tmp/x'], /exclude each other/],
    [['--min-ttl', '600', '--max-ttl', '60'], /maxTtl/]
  ]

  for (const [args, message] of badFlags) {
    it(`exits with code 2 and says what is wrong for ${args.join(' ')}`, async () => {
      const { code, stderr } = await runCommand([...args, '--listen', '/ip4/127.0.0.1/tcp/0'])
      expect(stderr).to.match(message)
      expect(code).to.equal(2)
    })
  }

  it('prints its usage and version', async () => {
    const help = await runCommand(['--help'])
    expect(help.code).to.equal(0)
    expect(help.stdout).to.include('--max-registrations-per-peer')

    const version = await runCommand(['--version'])
    expect(version.code).to.equal(0)
    expect(version.stdout.trim()).to.match(/^\d+\.\d+\.\d+/)
  })
})

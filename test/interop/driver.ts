/**
 * The driver processes of the interop tests: one program per other
 * implementation (interop/canvas/peer.mjs, interop/rust, interop/go), all
 * speaking one protocol (interop/README.md): a JSON ready line, then one JSON
 * command a line on stdin, each answered in order with one JSON line.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { expect } from 'aegir/chai'
import type { PeerProgram } from './peers.ts'
import type { ChildProcessWithoutNullStreams } from 'node:child_process'

/**
 * How long a condition polled through a driver may take to hold
 */
export const POLL_DEADLINE = 20_000
const POLL_INTERVAL = 50

/**
 * How long a driver may take to print its ready line
 */
const READY_DEADLINE = 30_000

export interface Ready {
  ready: true
  role: 'point' | 'client'
  peerId: string
  /**
   * Each ending in /p2p/<its peer id>
   */
  multiaddrs: string[]
}

/**
 * A registration as a driver reports it
 */
export interface DriverRegistration {
  peerId: string
  multiaddrs: string[]
  ns?: string
  /**
   * In seconds
   */
  ttl?: number
}

/**
 * A DISCOVER page as a client driver reports it: the cookie in hex, `null`
 * when the point sent none
 */
export interface DriverPage {
  registrations: DriverRegistration[]
  cookie: string | null
}

/**
 * A command the driver answered with an error; `status` is the spec's name
 * of the status the point answered, when one did (e.g. `E_INVALID_TTL`)
 */
export class DriverError extends Error {
  readonly status?: string

  constructor (message: string, status?: string) {
    super(message)
    this.name = 'DriverError'
    this.status = status
  }
}

export interface Driver {
  /**
   * e.g. `rust point`
   */
  name: string
  child: ChildProcessWithoutNullStreams
  ready: Ready
  stderr: string[]
  exited: Promise<number | null>
  command<T = unknown>(command: Record<string, unknown>): Promise<T>
}

/**
 * Starts a driver with the role arguments `args` and resolves once it
 * printed its ready line
 */
export async function startDriver (program: PeerProgram, args: string[]): Promise<Driver> {
  const name = `${program.name} ${args[0]}`
  const child = spawn(program.command, [...program.args, ...args], { stdio: ['pipe', 'pipe', 'pipe'] })
  const stderr: string[] = []
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  createInterface({ input: child.stderr }).on('line', line => stderr.push(line))

  const pending = new Map<number, { resolve(value: any): void, reject(err: Error): void }>()
  let nextId = 0
  let onReady: ((ready: Ready) => void) | undefined

  createInterface({ input: child.stdout }).on('line', line => {
    const message = JSON.parse(line)

    if (message.ready === true) {
      onReady?.(message)
      return
    }

    const waiter = pending.get(message.id)
    pending.delete(message.id)

    if (message.error != null) {
      waiter?.reject(new DriverError(`${name}: ${message.error}`, message.status))
    } else {
      waiter?.resolve(message.result)
    }
  })

  const died = exited.then(code => new Error(`${name} exited with ${code}: ${stderr.join('\n')}`))
  void died.then(err => {
    pending.forEach(waiter => { waiter.reject(err) })
    pending.clear()
  })

  let readyTimer: ReturnType<typeof setTimeout> | undefined

  try {
    const ready = await Promise.race([
      new Promise<Ready>(resolve => { onReady = resolve }),
      died.then(err => { throw err }),
      new Promise<never>((resolve, reject) => {
        readyTimer = setTimeout(() => { reject(new Error(`${name} not ready in ${READY_DEADLINE} ms: ${stderr.join('\n')}`)) }, READY_DEADLINE)
      })
    ])

    return {
      name,
      child,
      stderr,
      exited,
      ready,
      async command (command) {
        const id = ++nextId
        const answer = new Promise<any>((resolve, reject) => pending.set(id, { resolve, reject }))
        child.stdin.write(JSON.stringify({ ...command, id }) + '\n')
        return answer
      }
    }
  } catch (err) {
    child.kill('SIGKILL')
    throw err
  } finally {
    clearTimeout(readyTimer)
  }
}

/**
 * Ends a driver and waits for it to exit
 */
export async function stopDriver (driver: Driver): Promise<void> {
  driver.child.kill('SIGKILL')
  await driver.exited
}

/**
 * Asks a driver until `check` holds for its answer, a bounded number of
 * times: the drivers have no events to wait for
 */
export async function pollDriver <T> (driver: Driver, command: Record<string, unknown>, check: (result: T) => boolean, what: string): Promise<T> {
  const deadline = Date.now() + POLL_DEADLINE
  let result: T

  for (let attempt = 1; ; attempt++) {
    result = await driver.command<T>(command)

    if (check(result)) {
      return result
    }

    if (Date.now() > deadline) {
      throw new Error(`${what}: not true after ${attempt} polls in ${POLL_DEADLINE} ms, last answer ${JSON.stringify(result)}`)
    }

    await new Promise(resolve => setTimeout(resolve, POLL_INTERVAL))
  }
}

/**
 * Pages through a namespace with a client driver, `limit` registrations a
 * DISCOVER, each time with the cookie of the one before, until a page comes
 * back empty; returns the peer ids of each page
 */
export async function pageWithDriver (client: Driver, ns: string, limit: number): Promise<string[][]> {
  const pages: string[][] = []
  let cookie: string | null = null

  // bounded: a point that repeats itself fails the test instead of looping
  for (let request = 0; request < 100; request++) {
    const page: DriverPage = await client.command<DriverPage>({ cmd: 'discover', ns, limit, ...(cookie == null ? {} : { cookie }) })

    if (page.registrations.length === 0) {
      return pages
    }

    pages.push(page.registrations.map(registration => registration.peerId))
    cookie = page.cookie ?? cookie
  }

  throw new Error(`${client.name} still got registrations in ${ns} after 100 pages`)
}

/**
 * Has a client driver register in `ns` and expects the TTL asked granted
 */
export async function expectRegistered (client: Driver, ns: string, ttl: number): Promise<void> {
  expect(await client.command({ cmd: 'register', ns, ttl })).to.deep.equal({ ttl })
}

/**
 * Expects a driver command to fail, and returns its error
 */
export async function expectRefusal (command: Promise<unknown>): Promise<DriverError> {
  const err = await command.then(() => undefined, (err: Error) => err)
  expect(err).to.be.an.instanceOf(DriverError)
  return err as DriverError
}

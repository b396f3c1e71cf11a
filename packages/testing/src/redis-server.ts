import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { createInterface } from 'node:readline'
import type { ChildProcess } from 'node:child_process'

/**
 * A redis-server of a test's own: on a free loopback port, no persistence,
 * stopped by `stop()`. scripts/setup-redis.sh (run by `npm test`'s pretest)
 * installs the binary; REDIS_SERVER picks another one.
 */
export interface TestRedis {
  url: string
  port: number
  child: ChildProcess
  stop(): Promise<void>
}

const REDIS_SERVER = process.env.REDIS_SERVER ?? 'redis-server'

async function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address != null ? address.port : 0
      server.close(() => { resolve(port) })
    })
  })
}

async function startOnce (port: number): Promise<TestRedis> {
  const child = spawn(REDIS_SERVER, [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'no',
    '--loglevel', 'notice',
    '--logfile', ''
  ], { stdio: ['ignore', 'pipe', 'pipe'] })
  const output: string[] = []
  const exited = new Promise<number | null>(resolve => child.once('exit', code => { resolve(code) }))
  createInterface({ input: child.stderr }).on('line', line => output.push(line))

  await new Promise<void>((resolve, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error(`${REDIS_SERVER} not found: run scripts/setup-redis.sh (npm test runs it first)`) : err)
    })
    createInterface({ input: child.stdout }).on('line', line => {
      output.push(line)

      if (line.includes('Ready to accept connections')) {
        resolve()
      }
    })
    exited.then(code => { reject(new Error(`redis-server exited with ${code}: ${output.join('\n')}`)) }, reject)
  })

  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    child,
    stop: async () => {
      if (child.exitCode == null && child.signalCode == null) {
        child.kill('SIGKILL')
        await exited
      }
    }
  }
}

/**
 * Starts redis-server and resolves once it accepts connections: on `port`
 * when given (to bring back one that was stopped), else on a free port,
 * trying another if the one it picked was taken meanwhile.
 */
export async function startRedis (port?: number): Promise<TestRedis> {
  if (port != null) {
    return startOnce(port)
  }

  let lastError: Error | undefined

  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startOnce(await freePort())
    } catch (err: any) {
      lastError = err

      if (err.message.includes('not found')) {
        break
      }
    }
  }

  throw lastError ?? new Error('could not start redis-server')
}

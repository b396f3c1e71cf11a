import { createServer } from 'node:net'
import type { Child, Children } from './children.ts'

/**
 * A redis-server of a test's own: on a free loopback port, no persistence,
 * stopped by `stop()` (or by the `Children` that started it).
 * scripts/setup-redis.sh (run by `npm test`'s pretest) installs the binary;
 * REDIS_SERVER picks another one.
 */
export interface TestRedis {
  url: string
  port: number
  child: Child
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

/**
 * Starts redis-server on `port` and resolves once it accepts connections
 */
export async function startRedisOn (children: Children, port: number): Promise<TestRedis> {
  const child = children.spawn(REDIS_SERVER, [
    '--port', String(port),
    '--bind', '127.0.0.1',
    '--save', '',
    '--appendonly', 'no',
    '--protected-mode', 'no',
    '--loglevel', 'notice',
    '--logfile', ''
  ])
  const notFound = new Promise<never>((resolve, reject) => {
    child.process.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' ? new Error(`${REDIS_SERVER} not found: run scripts/setup-redis.sh (npm test runs it first)`) : err)
    })
  })

  await Promise.race([child.line(line => line.includes('Ready to accept connections')), notFound])

  return { url: `redis://127.0.0.1:${port}`, port, child, stop: async () => { await child.stop() } }
}

/**
 * Starts redis-server on a free port. Retries on another port if the one it
 * picked was taken meanwhile.
 */
export async function startRedis (children: Children): Promise<TestRedis> {
  let lastError: Error | undefined

  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      return await startRedisOn(children, await freePort())
    } catch (err: any) {
      lastError = err

      if (err.message.includes('not found')) {
        break
      }
    }
  }

  throw lastError ?? new Error('could not start redis-server')
}

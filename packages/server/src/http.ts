import { createServer } from 'node:http'
import { register } from 'prom-client'
import type { RegistrationStore } from 'libp2p-rendezvous'
import type { Server } from 'node:http'

/**
 * How long `/readyz` waits for the store to answer before it says 503
 */
export const READY_TIMEOUT = 2000

/**
 * Serves, on the metrics port:
 *
 * - `/metrics`: Prometheus metrics
 * - `/healthz`: 200 while the process serves
 * - `/readyz`: 200 when the registration store answers, 503 with the reason
 * when it does not (e.g. while Redis is unreachable)
 */
export async function serveHttp (port: number, host: string, store: RegistrationStore): Promise<{ server: Server, url: string }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname

    if (path === '/metrics') {
      register.metrics().then(text => {
        response.writeHead(200, { 'content-type': register.contentType }).end(text)
      }, (err: Error) => {
        response.writeHead(500, { 'content-type': 'text/plain' }).end(`${err.message}\n`)
      })
    } else if (path === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
    } else if (path === '/readyz') {
      storeAnswers(store).then(() => {
        response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n')
      }, (err: Error) => {
        response.writeHead(503, { 'content-type': 'text/plain' }).end(`the registration store does not answer: ${err.message}\n`)
      })
    } else {
      response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n')
    }
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, resolve)
  })

  const address = server.address()
  const boundPort = typeof address === 'object' && address != null ? address.port : port

  return { server, url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort}` }
}

/**
 * Resolves when the store answers a count within `READY_TIMEOUT`
 */
async function storeAnswers (store: RegistrationStore): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined

  try {
    await Promise.race([
      store.count(),
      new Promise((resolve, reject) => {
        timer = setTimeout(() => { reject(new Error(`no answer within ${READY_TIMEOUT} ms`)) }, READY_TIMEOUT)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

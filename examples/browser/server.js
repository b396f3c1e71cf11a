/* eslint-disable no-console */
/**
 * Serves the browser example: a rendezvous point that is also a circuit relay,
 * reachable over WebSockets, and the page, both on 127.0.0.1. Every tab you
 * open registers in the same namespace and lists the others.
 */
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayServer } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import * as esbuild from 'esbuild'
import { createLibp2p } from 'libp2p'
import { rendezvousServer } from 'libp2p-rendezvous'

const NAMESPACE = 'browser-example'

/**
 * Bundles the page's script, starts the point and the web server, and
 * returns how to reach and stop them
 *
 * @param {object} [options]
 * @param {number} [options.port] - the web server's port, 0 for any free one
 */
export async function startExample ({ port = 0 } = {}) {
  await esbuild.build({
    entryPoints: [new URL('./app.js', import.meta.url).pathname],
    outfile: new URL('./dist/app.js', import.meta.url).pathname,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    logLevel: 'warning'
  })

  const point = await createLibp2p({
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
    transports: [webSockets()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    connectionManager: { inboundConnectionThreshold: 100 },
    services: {
      identify: identify(),
      relay: circuitRelayServer({ reservations: { maxReservations: 100 } }),
      rendezvousServer: rendezvousServer()
    }
  })

  const files = {
    '/': ['index.html', 'text/html'],
    '/index.html': ['index.html', 'text/html'],
    '/dist/app.js': ['dist/app.js', 'text/javascript']
  }

  const web = createServer((request, response) => {
    const path = new URL(request.url ?? '/', 'http://localhost').pathname

    if (path === '/config.json') {
      response.writeHead(200, { 'content-type': 'application/json' })
      response.end(JSON.stringify({ point: point.getMultiaddrs()[0].toString(), namespace: NAMESPACE }))
      return
    }

    const file = files[path]

    if (file == null) {
      response.writeHead(404).end()
      return
    }

    readFile(new URL(file[0], import.meta.url)).then(body => {
      response.writeHead(200, { 'content-type': file[1] }).end(body)
    }, err => {
      response.writeHead(500).end(err.message)
    })
  })

  await new Promise(resolve => web.listen(port, '127.0.0.1', resolve))

  return {
    url: `http://127.0.0.1:${web.address().port}/`,
    point,
    async stop () {
      web.close()
      await point.stop()
    }
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const example = await startExample({ port: Number(process.env.PORT ?? 8080) })
  console.info(`rendezvous point: ${example.point.getMultiaddrs()[0]}`)
  console.info(`open ${example.url} in a few tabs; Ctrl-C stops`)
  process.once('SIGINT', () => { example.stop().then(() => process.exit(0)) })
}

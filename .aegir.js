import path from 'node:path'
import { fileURLToPath } from 'node:url'

// Browser tests (`aegir test -t browser`) run in Debian's Chromium, laid out by
// scripts/setup-chromium.sh as Playwright's chromium-headless-shell in this
// folder, since Playwright cannot download its own build here
process.env.PLAYWRIGHT_BROWSERS_PATH ??= path.join(path.dirname(fileURLToPath(import.meta.url)), 'node_modules', '.cache', 'ms-playwright')

/** @type {import('aegir').PartialOptions} */
export default {
  build: {
    bundle: false
  },
  dependencyCheck: {
    // the examples import this package by its own name
    ignore: ['libp2p-rendezvous'],
    productionIgnorePatterns: ['/bench', '/dist', '/test', '/examples', '/interop', '/scripts', '/packages', '.aegir.js'],
    // the workspace packages check their own
    developmentIgnorePatterns: ['/dist', '/src', '/packages']
  },
  test: {
    timeout: 30_000,
    /**
     * Browser nodes cannot listen, so the browser tests get a Node-side
     * rendezvous point that is also a circuit relay, reachable over
     * WebSockets on 127.0.0.1: browser peers register their relay addresses
     * there and discover each other
     */
    async before (options) {
      if (options.runner === 'node') {
        return {}
      }

      const { noise } = await import('@chainsafe/libp2p-noise')
      const { yamux } = await import('@chainsafe/libp2p-yamux')
      const { circuitRelayServer } = await import('@libp2p/circuit-relay-v2')
      const { identify } = await import('@libp2p/identify')
      const { webSockets } = await import('@libp2p/websockets')
      const { createLibp2p } = await import('libp2p')
      const { rendezvousServer } = await import('./dist/src/index.js')

      const point = await createLibp2p({
        addresses: { listen: ['/ip4/127.0.0.1/tcp/0/ws'] },
        transports: [webSockets()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        connectionManager: { inboundConnectionThreshold: 1000 },
        services: {
          identify: identify(),
          relay: circuitRelayServer({ reservations: { maxReservations: 100 } }),
          rendezvousServer: rendezvousServer()
        }
      })

      return {
        point,
        env: {
          RENDEZVOUS_POINT: point.getMultiaddrs()[0].toString()
        }
      }
    },
    async after (options, before) {
      await before?.point?.stop()
    },
    browser: {
      config: {
        // playwright-test spreads these into chromium.launchPersistentContext()
        browserContextOptions: {
          args: [
            '--no-sandbox',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-gpu',
            '--disable-dev-shm-usage'
          ]
        }
      }
    }
  }
}

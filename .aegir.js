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
    productionIgnorePatterns: ['/bench', '/dist', '/test', '/examples', '/interop', '/scripts', '.aegir.js']
  },
  test: {
    timeout: 30_000,
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

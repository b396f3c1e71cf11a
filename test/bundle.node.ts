/**
 * What `rendezvous()` costs a browser app: a minimal app that uses it,
 * bundled for browsers by esbuild and minified, as an app developer would.
 * The size is printed (and stated in the README); the test fails when the
 * bundle pulls in Node.js built-ins or the server stack.
 */
import { gzipSync } from 'node:zlib'
import { expect } from 'aegir/chai'
import * as esbuild from 'esbuild'

const APP = new URL('./fixtures/bundle/app.js', import.meta.url).pathname

/**
 * Packages only the command and the Redis store use: none may reach a browser
 */
const SERVER_STACK = ['node_modules/libp2p/', '@libp2p/tcp', '@libp2p/websockets', '@redis/', 'datastore-level', 'classic-level', 'prom-client', 'libp2p-rendezvous-redis', 'libp2p-rendezvous-server']

describe('browser bundle', () => {
  it('bundles rendezvous() for browsers without Node.js built-ins or the server stack', async function () {
    this.timeout(60_000)

    const result = await esbuild.build({
      entryPoints: [APP],
      bundle: true,
      minify: true,
      format: 'esm',
      platform: 'browser',
      target: 'es2022',
      write: false,
      metafile: true,
      logLevel: 'silent'
    })

    const inputs = Object.keys(result.metafile.inputs)
    expect(inputs.filter(input => input.startsWith('node:'))).to.deep.equal([])
    expect(inputs.filter(input => SERVER_STACK.some(name => input.includes(name)))).to.deep.equal([])

    const bytes = result.outputFiles[0].contents
    const gzipped = gzipSync(bytes, { level: 9 }).byteLength
    // eslint-disable-next-line no-console
    console.info(`      rendezvous() in a minified browser bundle: ${kib(bytes.byteLength)} KiB, ${kib(gzipped)} KiB gzipped`)
    expect(gzipped).to.be.greaterThan(0)
  })
})

function kib (bytes: number): string {
  return (bytes / 1024).toFixed(1)
}

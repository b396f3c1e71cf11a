/**
 * Where the interop peers are and whether they are there: the one place that
 * knows the paths. scripts/setup-interop.sh installs interop/canvas and
 * scripts/build-interop-peers.sh links the Rust and Go builds into
 * interop/.bin (both run before `npm test` and `npm run test:interop`).
 *
 * RENDEZVOUS_INTEROP says what a missing peer means:
 * - `auto` (default): its tests are skipped, saying so
 * - `required` (`npm run test:interop`, CI): its tests fail
 * - `off`: the interop tests are left out (test/node.ts)
 */
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export type PeerName = 'canvas' | 'rust' | 'go'

export type InteropMode = 'auto' | 'required' | 'off'

/**
 * How to start a peer's driver process, with its role arguments appended
 */
export interface PeerProgram {
  name: PeerName
  command: string
  args: string[]
}

/**
 * The folder holding interop/: the repository, from test/interop or from
 * its build in dist/test/interop
 */
function repositoryRoot (): string {
  let dir = dirname(fileURLToPath(import.meta.url))

  while (!existsSync(join(dir, 'interop', 'canvas', 'package.json'))) {
    const parent = dirname(dir)

    if (parent === dir) {
      throw new Error(`no interop/ folder above ${fileURLToPath(import.meta.url)}`)
    }

    dir = parent
  }

  return dir
}

const ROOT = repositoryRoot()

const PROGRAMS: Record<PeerName, { program: PeerProgram, built: string, setup: string }> = {
  canvas: {
    program: { name: 'canvas', command: process.execPath, args: [join(ROOT, 'interop', 'canvas', 'peer.mjs')] },
    built: join(ROOT, 'interop', 'canvas', 'node_modules', '.interop-setup'),
    setup: 'bash scripts/setup-interop.sh'
  },
  rust: {
    program: { name: 'rust', command: join(ROOT, 'interop', '.bin', 'rendezvous-interop-rust'), args: [] },
    built: join(ROOT, 'interop', '.bin', 'rendezvous-interop-rust'),
    setup: 'bash scripts/build-interop-peers.sh rust (needs cargo)'
  },
  go: {
    program: { name: 'go', command: join(ROOT, 'interop', '.bin', 'rendezvous-interop-go'), args: [] },
    built: join(ROOT, 'interop', '.bin', 'rendezvous-interop-go'),
    setup: 'bash scripts/build-interop-peers.sh go (needs go and a C compiler)'
  }
}

export function interopMode (): InteropMode {
  const mode = process.env.RENDEZVOUS_INTEROP ?? 'auto'

  if (mode !== 'auto' && mode !== 'required' && mode !== 'off') {
    throw new Error(`RENDEZVOUS_INTEROP must be auto, required or off, not ${mode}`)
  }

  return mode
}

/**
 * The peer's program for a suite's `before` hook. When the peer is not
 * built, skips the suite and says so, or, with RENDEZVOUS_INTEROP=required,
 * fails it.
 */
export function requirePeer (context: Mocha.Context, name: PeerName): PeerProgram {
  const { program, built, setup } = PROGRAMS[name]

  if (existsSync(built)) {
    return program
  }

  const missing = `the ${name} interop peer is not built (${built} is missing): run ${setup}`

  if (interopMode() === 'required') {
    throw new Error(`${missing}; RENDEZVOUS_INTEROP=required`)
  }

  // eslint-disable-next-line no-console
  console.log(`      skipped: ${name} interop, ${missing}`)
  context.skip()
}

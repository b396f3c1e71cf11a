import { defaultLogger } from '@libp2p/logger'
import { expect } from 'aegir/chai'
import sinon from 'sinon'
import { DEFAULT_MIN_YOUNG_GENERATION, MemoryRelease, nodeRuntime } from '../src/memory-release.ts'
import type { MemoryReleaseInit, MemoryRuntime } from '../src/memory-release.ts'
import type { EventLoopUtilization } from 'node:perf_hooks'

const MB = 1024 * 1024

/**
 * A runtime whose readings the test sets: the event loop's utilization in
 * the next interval, the young generation's size, the heap used, and what a
 * collection takes and leaves
 */
class FakeRuntime implements MemoryRuntime {
  busy = 0
  young = 64 * MB
  heap = 50 * MB
  afterCollect = MB
  collectTakes = 10
  collections = 0
  clock: sinon.SinonFakeTimers

  constructor (clock: sinon.SinonFakeTimers) {
    this.clock = clock
  }

  utilization (current?: EventLoopUtilization, before?: EventLoopUtilization): EventLoopUtilization {
    // as Node.js: a difference when given two readings, else since the start
    return current == null || before == null
      ? { idle: 0, active: 0, utilization: 0 }
      : { idle: 0, active: 0, utilization: this.busy }
  }

  youngGenerationSize (): number {
    return this.young
  }

  heapUsed (): number {
    return this.heap
  }

  now (): number {
    return this.clock.now
  }

  collect (): void {
    this.collections++
    this.young = this.afterCollect
    this.clock.tick(this.collectTakes)
  }
}

describe('memory release', () => {
  let clock: sinon.SinonFakeTimers
  let runtime: FakeRuntime
  let release: MemoryRelease | undefined

  beforeEach(() => {
    clock = sinon.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] })
    runtime = new FakeRuntime(clock)
  })

  afterEach(() => {
    release?.stop()
    clock.restore()
  })

  function start (init: MemoryReleaseInit = {}): MemoryRelease {
    release = new MemoryRelease({ logger: defaultLogger() }, { interval: 1000, quietFor: 3000, runtime, ...init })
    release.start()
    return release
  }

  it('hands the young generation back once the point has been quiet for quietFor, and not before', () => {
    start()

    clock.tick(2000)
    expect(runtime.collections).to.equal(0)

    clock.tick(1000)
    expect(runtime.collections).to.equal(1)

    // nothing to hand back until the young generation grows again
    clock.tick(10_000)
    expect(runtime.collections).to.equal(1)

    runtime.young = 32 * MB
    clock.tick(3000)
    expect(runtime.collections).to.equal(2)
  })

  it('starts counting again after a busy interval', () => {
    start()

    clock.tick(2000)
    runtime.busy = 0.5
    clock.tick(1000)
    runtime.busy = 0.01
    clock.tick(2000)
    expect(runtime.collections).to.equal(0)

    clock.tick(1000)
    expect(runtime.collections).to.equal(1)
  })

  it('leaves a young generation smaller than minYoungGeneration alone', () => {
    runtime.young = DEFAULT_MIN_YOUNG_GENERATION - 1
    start()

    clock.tick(60_000)
    expect(runtime.collections).to.equal(0)
  })

  it('skips a release whose pause, estimated from the last, would be longer than maxPause', () => {
    // 50 MB at the first estimate of 4 ms a MB: 200 ms
    start({ maxPause: 199 })

    clock.tick(60_000)
    expect(runtime.collections).to.equal(0)
  })

  it('learns the pause from the last release and keeps releases under a tenth of the time', () => {
    runtime.collectTakes = 500
    start({ maxPause: 2000 })

    clock.tick(3000)
    expect(runtime.collections).to.equal(1)

    // 500 ms of pause: none for the next 5 s, however quiet
    runtime.young = 64 * MB
    clock.tick(4000)
    expect(runtime.collections).to.equal(1)
    clock.tick(1000)
    expect(runtime.collections).to.equal(2)

    // 500 ms for 50 MB: 250 MB would take 2.5 s, over maxPause
    runtime.young = 64 * MB
    runtime.heap = 250 * MB
    clock.tick(60_000)
    expect(runtime.collections).to.equal(2)
  })

  it('gives up when a collection does not shrink the young generation', () => {
    runtime.afterCollect = 64 * MB
    start()

    clock.tick(3000)
    expect(runtime.collections).to.equal(1)

    clock.tick(60_000)
    expect(runtime.collections).to.equal(1)
    expect(clock.countTimers()).to.equal(0)
  })

  it('leaves no timer behind when stopped', () => {
    start().stop()

    expect(clock.countTimers()).to.equal(0)
    clock.tick(60_000)
    expect(runtime.collections).to.equal(0)
  })
})

describe('memory release in this Node.js', () => {
  it('shrinks this Node.js\'s young generation without --expose-gc', () => {
    const node = nodeRuntime()
    expect(globalThis).to.not.have.property('gc')

    // enough short-lived objects, a few surviving each scavenge, that V8
    // grows its young generation
    let kept: Array<{ n: number, s: string }> = []

    for (let n = 0; node.youngGenerationSize() < 2 * DEFAULT_MIN_YOUNG_GENERATION && n < 20_000_000; n++) {
      kept.push({ n, s: `object ${n}` })

      if (kept.length > 200_000) {
        kept = []
      }
    }

    expect(node.youngGenerationSize()).to.be.at.least(2 * DEFAULT_MIN_YOUNG_GENERATION)
    kept = []

    node.collect()

    expect(node.youngGenerationSize()).to.be.below(DEFAULT_MIN_YOUNG_GENERATION)
    expect(globalThis).to.not.have.property('gc')
  })
})

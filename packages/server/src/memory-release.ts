import { performance } from 'node:perf_hooks'
import { getHeapSpaceStatistics, getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import type { ComponentLogger, Logger, Startable } from '@libp2p/interface'
import type { EventLoopUtilization } from 'node:perf_hooks'

/**
 * Options of `memoryRelease()`
 */
export interface MemoryReleaseInit {
  /**
   * How often the point looks at whether it is quiet, in ms
   *
   * @default 1000
   */
  interval?: number

  /**
   * How long the point must stay quiet before it hands memory back, in ms
   *
   * @default 3000
   */
  quietFor?: number

  /**
   * The share of the time the event loop may be busy in a quiet interval
   *
   * @default 0.05
   */
  quietUtilization?: number

  /**
   * How large V8's young generation must have grown, in bytes, for handing
   * it back to be worth a full collection
   *
   * @default 16_777_216 (16 MiB)
   */
  minYoungGeneration?: number

  /**
   * The longest the point may stop for a release, in ms. A release stops
   * it for a time that grows with the heap (some 2 ms a MB here); one whose
   * pause, estimated from the last, would be longer is skipped, so a point
   * with a large heap keeps its young generation, which is then a small part
   * of its memory.
   *
   * @default 1000
   */
  maxPause?: number

  /**
   * How the event loop's utilization is read, the heap measured and
   * collected, and time told: for tests
   */
  runtime?: MemoryRuntime
}

/**
 * What `MemoryRelease` reads and does in the runtime
 */
export interface MemoryRuntime {
  /**
   * The event loop's utilization since the start, or, given two readings,
   * between them, as `performance.eventLoopUtilization()` answers
   */
  utilization(current?: EventLoopUtilization, before?: EventLoopUtilization): EventLoopUtilization

  /**
   * The bytes V8's young generation holds on to
   */
  youngGenerationSize(): number

  /**
   * The bytes the heap's live objects take
   */
  heapUsed(): number

  /**
   * A monotonic clock, in ms
   */
  now(): number

  /**
   * A full collection that hands what it can back to the system
   */
  collect(): void
}

export interface MemoryReleaseComponents {
  logger: ComponentLogger
}

export const DEFAULT_RELEASE_INTERVAL = 1000
export const DEFAULT_QUIET_FOR = 3000
export const DEFAULT_QUIET_UTILIZATION = 0.05
export const DEFAULT_MIN_YOUNG_GENERATION = 16 * 1024 * 1024
export const DEFAULT_MAX_PAUSE = 1000

/**
 * The pause a release of a heap this large is first expected to take, ms a
 * byte: 4 ms a MB, twice what it took here
 */
const FIRST_PAUSE_PER_BYTE = 4 / (1024 * 1024)

/**
 * A release that stopped the point for `p` ms is followed by none for
 * `p` × this: releases take at most a tenth of the point's time, time it
 * has spent nearly idle
 */
const GAP_PER_PAUSE = 10

/**
 * Hands the memory a burst of work made V8 take back to the system once the
 * point has been quiet for a while.
 *
 * Under a burst (a few thousand clients connecting) V8 grows its young
 * generation, up to 3 × 64 MB in Node.js 24, and keeps it and the pages it
 * pooled for good: it shrinks them only in a collection meant to reduce
 * memory, which a process that has gone quiet never starts. For a point
 * holding 2,000 idle connections that was two thirds of its resident memory
 * (BENCHMARKS.md). A last-resort collection gives it back. It stops the
 * point for as long as two or three full collections take (some 150 ms at
 * 2,000 connections), so it runs only when the event loop has been nearly
 * idle for `quietFor`, once the young generation has grown past
 * `minYoungGeneration` again, when its pause would be at most `maxPause`,
 * and no more often than keeps releases under a tenth of the point's time.
 */
export class MemoryRelease implements Startable {
  private readonly log: Logger
  private readonly interval: number
  private readonly quietIntervals: number
  private readonly quietUtilization: number
  private readonly minYoungGeneration: number
  private readonly maxPause: number
  private readonly runtime: MemoryRuntime
  private timer?: ReturnType<typeof setInterval>
  private lastUtilization?: EventLoopUtilization
  private quiet = 0
  private pausePerByte = FIRST_PAUSE_PER_BYTE
  private nextAllowed = 0

  constructor (components: MemoryReleaseComponents, init: MemoryReleaseInit = {}) {
    this.log = components.logger.forComponent('rendezvous-server:memory-release')
    this.interval = init.interval ?? DEFAULT_RELEASE_INTERVAL
    this.quietIntervals = Math.max(1, Math.ceil((init.quietFor ?? DEFAULT_QUIET_FOR) / this.interval))
    this.quietUtilization = init.quietUtilization ?? DEFAULT_QUIET_UTILIZATION
    this.minYoungGeneration = init.minYoungGeneration ?? DEFAULT_MIN_YOUNG_GENERATION
    this.maxPause = init.maxPause ?? DEFAULT_MAX_PAUSE
    this.runtime = init.runtime ?? nodeRuntime()
  }

  readonly [Symbol.toStringTag] = 'rendezvous-server:memory-release'

  start (): void {
    this.lastUtilization = this.runtime.utilization()
    this.quiet = 0
    this.timer = setInterval(() => { this.check() }, this.interval)
    // a quiet point with nothing else to do may exit
    this.timer.unref?.()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /**
   * Counts a quiet interval, and releases memory after `quietFor` of them
   */
  private check (): void {
    const now = this.runtime.utilization()
    const { utilization } = this.runtime.utilization(now, this.lastUtilization)
    this.lastUtilization = now

    if (utilization > this.quietUtilization) {
      this.quiet = 0
      return
    }

    this.quiet++

    if (this.quiet < this.quietIntervals) {
      return
    }

    const before = this.runtime.youngGenerationSize()
    const started = this.runtime.now()

    if (before < this.minYoungGeneration || started < this.nextAllowed) {
      return
    }

    const heapUsed = this.runtime.heapUsed()

    if (heapUsed * this.pausePerByte > this.maxPause) {
      return
    }

    this.runtime.collect()
    const after = this.runtime.youngGenerationSize()
    const pause = this.runtime.now() - started
    this.log('quiet for %d ms: released the young generation, %d to %d bytes, in %d ms', this.quiet * this.interval, before, after, Math.round(pause))
    this.quiet = 0
    this.pausePerByte = pause / Math.max(1, heapUsed)
    this.nextAllowed = started + pause * GAP_PER_PAUSE

    if (after >= this.minYoungGeneration) {
      // this runtime's collection does not shrink it: trying again would
      // only stop the point again and again
      this.log('the young generation did not shrink, so memory is no longer released')
      this.stop()
    }
  }
}

/**
 * A service that hands the memory a burst took back to the system when the
 * point goes quiet
 */
export function memoryRelease (init: MemoryReleaseInit = {}): (components: MemoryReleaseComponents) => MemoryRelease {
  return (components) => new MemoryRelease(components, init)
}

/**
 * The runtime's readings, and its collector, exposed for this process if it
 * was not started with `--expose-gc`
 */
export function nodeRuntime (): MemoryRuntime {
  let gc: GarbageCollector | undefined

  return {
    utilization: (current, before) => performance.eventLoopUtilization(current, before),
    youngGenerationSize: () => getHeapSpaceStatistics().find(space => space.space_name === 'new_space')?.space_size ?? 0,
    heapUsed: () => getHeapStatistics().used_heap_size,
    now: () => performance.now(),
    collect: () => {
      gc ??= garbageCollector()
      gc({ type: 'major', execution: 'sync', flavor: 'last-resort' })
    }
  }
}

type GarbageCollector = (options: { type: 'major', execution: 'sync', flavor: 'last-resort' }) => void

/**
 * V8's `gc()`: the flag adds it to contexts made while it is set, so one new
 * context gets it and the process's own global stays as it was
 */
function garbageCollector (): GarbageCollector {
  const exposed = (globalThis as { gc?: GarbageCollector }).gc

  if (typeof exposed === 'function') {
    return exposed
  }

  setFlagsFromString('--expose-gc')

  try {
    return runInNewContext('gc')
  } finally {
    setFlagsFromString('--no-expose-gc')
  }
}

import { SECOND } from '../constants.ts'

/**
 * How long to wait after `failures` failures in a row (at least 1): 1 s,
 * 2 s, 4 s ... capped at `max`, each wait a random point in the upper half of
 * its step ("equal jitter"), so clients that failed together do not retry
 * together, and no wait is longer than `max` or shorter than half a step
 */
export function backoff (failures: number, max: number, random: () => number = Math.random): number {
  const step = Math.min(max, SECOND * 2 ** Math.min(Math.max(failures, 1) - 1, 30))

  return step / 2 + random() * step / 2
}

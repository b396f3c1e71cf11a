import { InvalidOptionError } from './errors.ts'

/**
 * `value` when it is a positive safe integer, else `InvalidOptionError`
 * naming `option`
 */
export function positiveInteger (option: string, value: number): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new InvalidOptionError(option, `must be a positive integer, got ${value}`)
  }

  return value
}

/**
 * The longest delay `setTimeout` takes (ms): a longer one fires at once
 */
const MAX_TIMER_DELAY = 2 ** 31 - 1

/**
 * `value` when it is a positive integer a timer can wait for, else
 * `InvalidOptionError` naming `option`
 */
export function timerDelay (option: string, value: number): number {
  if (positiveInteger(option, value) > MAX_TIMER_DELAY) {
    throw new InvalidOptionError(option, `must be at most ${MAX_TIMER_DELAY} ms (about 24.8 days)`)
  }

  return value
}

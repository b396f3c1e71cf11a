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

import { pEvent } from 'p-event'
import * as varint from 'uint8-varint'
import { Uint8ArrayList } from 'uint8arraylist'
import { Message } from '../../src/pb/rendezvous.ts'
import type { Stream, StreamCloseEvent } from '@libp2p/interface'

/**
 * A number from the environment (Node.js), or `fallback` when unset or in a
 * browser
 */
export function envNumber (name: string, fallback: number): number {
  const value = globalThis.process?.env?.[name]

  if (value == null || value === '') {
    return fallback
  }

  const number = Number(value)

  if (!Number.isSafeInteger(number) || number < 0) {
    throw new Error(`${name} must be a non-negative integer, got ${value}`)
  }

  return number
}

/**
 * `bytes` with an unsigned-varint length prefix
 */
export function lengthPrefixed (bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return concat([varint.encode(bytes.byteLength), bytes])
}

export function frame (message: Message): Uint8Array<ArrayBuffer> {
  return lengthPrefixed(Message.encode(message))
}

export function concat (parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.byteLength, 0))
  let offset = 0

  for (const part of parts) {
    out.set(part, offset)
    offset += part.byteLength
  }

  return out
}

/**
 * Resolves with the stream's close event, at once when it has already closed
 */
export async function closed (stream: Stream): Promise<{ error?: Error }> {
  if (stream.status === 'closed') {
    return {}
  }

  if (stream.status === 'aborted' || stream.status === 'reset') {
    const error = new Error(`The stream was ${stream.status}`)
    // the names of the errors the close event carries in these cases
    error.name = stream.status === 'reset' ? 'StreamResetError' : 'StreamAbortedError'
    return { error }
  }

  const event = await pEvent<'close', StreamCloseEvent>(stream, 'close')
  return { error: event.error }
}

/**
 * Everything a stream receives until it closes, and how it closed
 */
export function collect (stream: Stream): { bytes: Uint8ArrayList, done: Promise<{ error?: Error }> } {
  const bytes = new Uint8ArrayList()
  stream.addEventListener('message', (event) => {
    bytes.append(event.data)
  })

  return { bytes, done: closed(stream) }
}

/**
 * Splits received bytes into length-prefixed frames and decodes each; bytes
 * of an incomplete last frame are counted in `trailing`
 */
export function parseFrames (bytes: Uint8ArrayList | Uint8Array): { messages: Message[], trailing: number } {
  const buf = bytes instanceof Uint8Array ? bytes : bytes.subarray()
  const messages: Message[] = []
  let offset = 0

  while (offset < buf.byteLength) {
    let length: number

    try {
      length = varint.decode(buf, offset)
    } catch {
      break
    }

    const start = offset + varint.encodingLength(length)

    if (start > buf.byteLength || start + length > buf.byteLength) {
      break
    }

    messages.push(Message.decode(buf.subarray(start, start + length)))
    offset = start + length
  }

  return { messages, trailing: buf.byteLength - offset }
}

/**
 * Collects uncaught exceptions and unhandled rejections while installed, in
 * Node.js and in browsers
 */
export function trackUnhandled (): { errors: unknown[], uninstall(): void } {
  const errors: unknown[] = []
  const proc = globalThis.process

  if (typeof proc?.on === 'function' && typeof proc?.off === 'function') {
    const onError = (err: unknown): void => { errors.push(err) }
    proc.on('uncaughtException', onError)
    proc.on('unhandledRejection', onError)

    return {
      errors,
      uninstall: () => {
        proc.off('uncaughtException', onError)
        proc.off('unhandledRejection', onError)
      }
    }
  }

  const onError = (event: ErrorEvent): void => { errors.push(event.error ?? event.message) }
  const onRejection = (event: PromiseRejectionEvent): void => { errors.push(event.reason) }
  globalThis.addEventListener('error', onError)
  globalThis.addEventListener('unhandledrejection', onRejection)

  return {
    errors,
    uninstall: () => {
      globalThis.removeEventListener('error', onError)
      globalThis.removeEventListener('unhandledrejection', onRejection)
    }
  }
}

/**
 * Waits until `condition` holds, checking every `interval` ms, for at most
 * `timeout` ms; for state that changes without an event (a server-side
 * stream being forgotten after the remote saw it close)
 */
export async function eventually (condition: () => boolean, timeout = 5_000, interval = 10): Promise<void> {
  const deadline = Date.now() + timeout

  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeout} ms`)
    }

    await new Promise(resolve => setTimeout(resolve, interval))
  }
}

/**
 * A promise that rejects after `ms`, for a liveness bound around something
 * that must finish: the bound is generous and never the thing asserted
 */
export async function within <T> (promise: Promise<T> | T, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined

  try {
    return await Promise.race([
      Promise.resolve(promise),
      new Promise<never>((resolve, reject) => {
        timer = setTimeout(() => { reject(new Error(`${what} did not finish within ${ms} ms`)) }, ms)
      })
    ])
  } finally {
    clearTimeout(timer)
  }
}

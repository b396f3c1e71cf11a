/**
 * Strings of one character per byte: how the memory store keeps records (V8
 * holds such a string at a byte a character, with a smaller header than a
 * `Uint8Array` and its buffer), and how it turns them back into bytes for a
 * page.
 */

/**
 * Bytes as a string of one character per byte. By chunks: passing a long
 * array as one call's arguments would overflow the stack. `apply` takes the
 * typed array as it is, where a spread would build an array of it first (9
 * µs for a 330-byte record against 1). (uint8arrays' `latin1` builds it a
 * character at a time and returns a slice, which keeps a longer string alive.)
 */
export function bytesToString (bytes: Uint8Array): string {
  let string = ''

  for (let offset = 0; offset < bytes.byteLength; offset += 4096) {
    string += String.fromCharCode.apply(null, bytes.subarray(offset, offset + 4096) as unknown as number[])
  }

  return string
}

/**
 * Whether a string of one character per byte holds exactly `bytes`. Through
 * `buffers` when there is one: the string written into a scratch buffer and
 * compared natively, 90 ns for a 360-byte record against 570 for a loop
 * (the memory store compares a REGISTER's record with the one it holds, on
 * every refresh). The scratch buffer grows to the longest string compared.
 */
export function stringEqualsBytes (string: string, bytes: Uint8Array, buffers: NodeBufferClass | undefined = NodeBuffer): boolean {
  if (string.length !== bytes.byteLength) {
    return false
  }

  if (buffers != null) {
    const buffer = scratchBuffer(buffers, string.length)
    buffer.latin1Write(string, 0)
    return buffer.compare(bytes, 0, bytes.byteLength, 0, string.length) === 0
  }

  for (let i = 0; i < bytes.byteLength; i++) {
    if (string.charCodeAt(i) !== bytes[i]) {
      return false
    }
  }

  return true
}

let scratch: NodeBufferView | undefined

function scratchBuffer (buffers: NodeBufferClass, length: number): NodeBufferView {
  if (scratch == null || scratch.byteLength < length) {
    const size = Math.max(length, (scratch?.byteLength ?? 0) * 2, 1024)
    scratch = buffers.from(new ArrayBuffer(size), 0, size)
  }

  return scratch
}

/**
 * Node.js's `Buffer` where there is one, read from `globalThis` so that no
 * bundle for browsers pulls it in: it writes a string of one character per
 * byte natively, in a tenth of the time of a loop (5 µs against 50 for the
 * records of a page of 100). A browser polyfill an app puts on `globalThis`
 * has no `latin1Write`, and is not used.
 */
export const NodeBuffer = nodeBuffer((globalThis as any).Buffer)

/**
 * What the module uses of Node.js's `Buffer`
 */
export interface NodeBufferClass {
  from(buffer: ArrayBufferLike, offset: number, length: number): NodeBufferView
}

/**
 * What the module uses of a Node.js `Buffer`
 */
export interface NodeBufferView {
  readonly byteLength: number
  latin1Write(string: string, offset: number): number
  compare(target: Uint8Array, targetStart: number, targetEnd: number, sourceStart: number, sourceEnd: number): number
}

/**
 * `candidate` when it is Node.js's `Buffer`, one that can `latin1Write` and
 * `compare`
 */
export function nodeBuffer (candidate: any): NodeBufferClass | undefined {
  return typeof candidate?.prototype?.latin1Write === 'function' && typeof candidate.prototype.compare === 'function' ? candidate : undefined
}

/**
 * What writes strings of one character per byte into `bytes`, each at an
 * offset, returning its length: through `buffers` when there is one
 */
export function stringWriter (bytes: Uint8Array, buffers: NodeBufferClass | undefined = NodeBuffer): (string: string, offset: number) => number {
  if (buffers != null) {
    const buffer = buffers.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return (string, offset) => buffer.latin1Write(string, offset)
  }

  return (string, offset) => {
    for (let i = 0; i < string.length; i++) {
      bytes[offset + i] = string.charCodeAt(i)
    }

    return string.length
  }
}

import type { SecuredConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * The part of noise's secured connection that reads frames: a
 * `LengthPrefixedDecoder` with its length decoder
 */
interface NoiseFrameReader {
  decoder?: {
    lengthDecoder?: unknown
    encodingLength?: unknown
  }
}

/**
 * Has the decoder of a connection noise secured read lengths with
 * `readFrameLength()`; a connection built otherwise (another noise) is left
 * as it is.
 *
 * Noise's decoder reads a frame's two-byte length with a function that
 * throws a new `RangeError` (and captures its stack) whenever fewer than two
 * bytes are buffered, which `LengthPrefixedDecoder` asks after the last
 * frame of every chunk: one error per chunk received on every connection,
 * 4 % of the point's CPU. Until noise stops throwing
 * (docs/upstream/noise-length-decoder.md), the point's connections read
 * lengths with `readFrameLength()` (`point-noise.ts`).
 */
export function readLengthsQuietly <T extends SecuredConnection<any>> (secured: T): T {
  const decoder = (secured.connection as unknown as NoiseFrameReader).decoder

  // noise's frames: two-byte lengths, read by a replaceable function
  if (decoder != null && typeof decoder.lengthDecoder === 'function' && typeof decoder.encodingLength === 'function' && decoder.encodingLength(0) === 2) {
    decoder.lengthDecoder = readFrameLength
  }

  return secured
}

/**
 * The big-endian two-byte length at the start of `data`, or 0 when fewer
 * than two bytes are buffered: `LengthPrefixedDecoder` then finds the frame
 * (two bytes of length, none of data) longer than what it holds and waits
 * for more, as it does for any incomplete frame, without an exception
 */
export function readFrameLength (data: Uint8Array | Uint8ArrayList): number {
  if (data.byteLength < 2) {
    return 0
  }

  return data instanceof Uint8Array ? (data[0] << 8) | data[1] : data.getUint16(0)
}

import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface EnvelopeHeader {
  payloadType: Uint8Array<ArrayBuffer>
}

export namespace EnvelopeHeader {
  let _codec: Codec<EnvelopeHeader>

  export const codec = (): Codec<EnvelopeHeader> => {
    if (_codec == null) {
      _codec = message<EnvelopeHeader>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.payloadType != null && obj.payloadType.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.payloadType)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          payloadType: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 2: {
              obj.payloadType = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 2: {
              yield {
                field: `${prefix}.payloadType`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface EnvelopeHeaderPayloadTypeFieldEvent {
    field: '$.payloadType'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<EnvelopeHeader>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, EnvelopeHeader.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnvelopeHeader>): EnvelopeHeader {
    return decodeMessage(buf, EnvelopeHeader.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<EnvelopeHeader>): Generator<EnvelopeHeaderPayloadTypeFieldEvent> {
    return streamMessage(buf, EnvelopeHeader.codec(), opts)
  }
}

import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface IdentifyAgent {
  agentVersion: string
}

export namespace IdentifyAgent {
  let _codec: Codec<IdentifyAgent>

  export const codec = (): Codec<IdentifyAgent> => {
    if (_codec == null) {
      _codec = message<IdentifyAgent>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.agentVersion != null && obj.agentVersion !== '')) {
          w.uint32(50)
          w.string(obj.agentVersion)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          agentVersion: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 6: {
              obj.agentVersion = reader.string()
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
            case 6: {
              yield {
                field: `${prefix}.agentVersion`,
                value: reader.string()
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

  export interface IdentifyAgentAgentVersionFieldEvent {
    field: '$.agentVersion'
    value: string
  }

  export function encode (obj: Partial<IdentifyAgent>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, IdentifyAgent.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IdentifyAgent>): IdentifyAgent {
    return decodeMessage(buf, IdentifyAgent.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<IdentifyAgent>): Generator<IdentifyAgentAgentVersionFieldEvent> {
    return streamMessage(buf, IdentifyAgent.codec(), opts)
  }
}

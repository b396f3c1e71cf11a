import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface StoredRegistration {
  peerId: string
  namespace: string
  signedPeerRecord: Uint8Array<ArrayBuffer>
  expiresAt: bigint
  sequence: bigint
  host?: string
}

export namespace StoredRegistration {
  let _codec: Codec<StoredRegistration>

  export const codec = (): Codec<StoredRegistration> => {
    if (_codec == null) {
      _codec = message<StoredRegistration>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.peerId != null && obj.peerId !== '')) {
          w.uint32(10)
          w.string(obj.peerId)
        }

        if ((obj.namespace != null && obj.namespace !== '')) {
          w.uint32(18)
          w.string(obj.namespace)
        }

        if ((obj.signedPeerRecord != null && obj.signedPeerRecord.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.signedPeerRecord)
        }

        if ((obj.expiresAt != null && obj.expiresAt !== 0n)) {
          w.uint32(32)
          w.uint64(obj.expiresAt)
        }

        if ((obj.sequence != null && obj.sequence !== 0n)) {
          w.uint32(40)
          w.uint64(obj.sequence)
        }

        if (obj.host != null) {
          w.uint32(50)
          w.string(obj.host)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peerId: '',
          namespace: '',
          signedPeerRecord: uint8ArrayAlloc(0),
          expiresAt: 0n,
          sequence: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.peerId = reader.string()
              break
            }
            case 2: {
              obj.namespace = reader.string()
              break
            }
            case 3: {
              obj.signedPeerRecord = reader.bytes()
              break
            }
            case 4: {
              obj.expiresAt = reader.uint64()
              break
            }
            case 5: {
              obj.sequence = reader.uint64()
              break
            }
            case 6: {
              obj.host = reader.string()
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
            case 1: {
              yield {
                field: `${prefix}.peerId`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.namespace`,
                value: reader.string()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.signedPeerRecord`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.expiresAt`,
                value: reader.uint64()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.sequence`,
                value: reader.uint64()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.host`,
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

  export interface StoredRegistrationPeerIdFieldEvent {
    field: '$.peerId'
    value: string
  }

  export interface StoredRegistrationNamespaceFieldEvent {
    field: '$.namespace'
    value: string
  }

  export interface StoredRegistrationSignedPeerRecordFieldEvent {
    field: '$.signedPeerRecord'
    value: Uint8Array<ArrayBuffer>
  }

  export interface StoredRegistrationExpiresAtFieldEvent {
    field: '$.expiresAt'
    value: bigint
  }

  export interface StoredRegistrationSequenceFieldEvent {
    field: '$.sequence'
    value: bigint
  }

  export interface StoredRegistrationHostFieldEvent {
    field: '$.host'
    value: string
  }

  export function encode (obj: Partial<StoredRegistration>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, StoredRegistration.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StoredRegistration>): StoredRegistration {
    return decodeMessage(buf, StoredRegistration.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<StoredRegistration>): Generator<StoredRegistrationPeerIdFieldEvent | StoredRegistrationNamespaceFieldEvent | StoredRegistrationSignedPeerRecordFieldEvent | StoredRegistrationExpiresAtFieldEvent | StoredRegistrationSequenceFieldEvent | StoredRegistrationHostFieldEvent> {
    return streamMessage(buf, StoredRegistration.codec(), opts)
  }
}

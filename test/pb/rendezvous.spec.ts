import { expect } from 'aegir/chai'
import { Message } from '../../src/pb/rendezvous.ts'

const { MessageType, ResponseStatus } = Message

/**
 * Wire vectors written out by hand from the specification's schema, not
 * produced by our codec: each decodes to the expected value, and our codec
 * encodes the value to exactly these bytes
 */
const VECTORS: Array<{ name: string, hex: string, message: Message }> = [{
  name: 'REGISTER with ns "a", a 2-byte record and ttl 7200 s',
  // type=0 | field 2 (10 bytes): ns "a" | signedPeerRecord 01 02 | ttl 7200 = a0 38
  hex: '0800' + '120a' + '0a0161' + '12020102' + '18a038',
  message: { type: MessageType.REGISTER, register: { ns: 'a', signedPeerRecord: Uint8Array.from([1, 2]), ttl: 7200n } }
}, {
  name: 'REGISTER_RESPONSE OK with ttl 7200 s (status 0 written explicitly)',
  hex: '0801' + '1a05' + '0800' + '18a038',
  message: { type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.OK, ttl: 7200n } }
}, {
  name: 'REGISTER_RESPONSE E_INVALID_TTL (102) with statusText "bad"',
  hex: '0801' + '1a07' + '0866' + '1203626164',
  message: { type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.E_INVALID_TTL, statusText: 'bad' } }
}, {
  name: 'UNREGISTER of ns "a"',
  hex: '0802' + '2203' + '0a0161',
  message: { type: MessageType.UNREGISTER, unregister: { ns: 'a' } }
}, {
  name: 'DISCOVER of ns "a", limit 100, cookie ff',
  hex: '0803' + '2a08' + '0a0161' + '1064' + '1a01ff',
  message: { type: MessageType.DISCOVER, discover: { ns: 'a', limit: 100n, cookie: Uint8Array.from([0xff]) } }
}, {
  name: 'DISCOVER_RESPONSE with one registration, a cookie and status OK',
  // field 6 (16 bytes): registration (8 bytes: ns "a", record 01, ttl 60) | cookie 01 02 | status 0
  hex: '0804' + '3210' + '0a08' + '0a0161' + '120101' + '183c' + '12020102' + '1800',
  message: {
    type: MessageType.DISCOVER_RESPONSE,
    discoverResponse: {
      registrations: [{ ns: 'a', signedPeerRecord: Uint8Array.from([1]), ttl: 60n }],
      cookie: Uint8Array.from([1, 2]),
      status: ResponseStatus.OK
    }
  }
}, {
  name: 'DISCOVER_RESPONSE E_INVALID_COOKIE (103) with no registrations',
  hex: '0804' + '3204' + '1867' + '2200',
  message: { type: MessageType.DISCOVER_RESPONSE, discoverResponse: { registrations: [], status: ResponseStatus.E_INVALID_COOKIE, statusText: '' } }
}, {
  name: 'E_NOT_AUTHORIZED (200), a two-byte varint',
  hex: '0801' + '1a03' + '08c801',
  message: { type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.E_NOT_AUTHORIZED } }
}, {
  name: 'E_INTERNAL_ERROR (300)',
  hex: '0801' + '1a03' + '08ac02',
  message: { type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.E_INTERNAL_ERROR } }
}, {
  name: 'E_UNAVAILABLE (400)',
  hex: '0801' + '1a03' + '089003',
  message: { type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.E_UNAVAILABLE } }
}, {
  name: 'E_INVALID_NAMESPACE (100)',
  hex: '0801' + '1a02' + '0864',
  message: { type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.E_INVALID_NAMESPACE } }
}, {
  name: 'E_INVALID_SIGNED_PEER_RECORD (101)',
  hex: '0801' + '1a02' + '0865',
  message: { type: MessageType.REGISTER_RESPONSE, registerResponse: { status: ResponseStatus.E_INVALID_SIGNED_PEER_RECORD } }
}]

function fromHex (hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], byte => parseInt(byte, 16))
}

describe('wire vectors', () => {
  for (const vector of VECTORS) {
    it(`decodes and encodes ${vector.name}`, () => {
      const bytes = fromHex(vector.hex)
      expect(Message.decode(bytes)).to.deep.equal(vector.message)
      expect(Message.encode(vector.message)).to.equalBytes(bytes)
    })
  }

  it('reads a response without status as carrying no status (OK is 0 and may be left out)', () => {
    expect(Message.decode(fromHex('0801' + '1a02' + '183c'))).to.deep.equal({
      type: MessageType.REGISTER_RESPONSE,
      registerResponse: { ttl: 60n }
    })
  })

  it('skips the deprecated Unregister.id (field 2) that older clients send', () => {
    expect(Message.decode(fromHex('0802' + '2206' + '0a0161' + '120178'))).to.deep.equal({
      type: MessageType.UNREGISTER,
      unregister: { ns: 'a' }
    })
  })

  it('leaves absent ttl and limit absent rather than 0', () => {
    expect(Message.decode(fromHex('0800' + '1203' + '0a0161'))).to.deep.equal({
      type: MessageType.REGISTER,
      register: { ns: 'a' }
    })
    expect(Message.encode({ type: MessageType.DISCOVER, discover: { ns: 'a' } })).to.equalBytes(fromHex('0803' + '2a03' + '0a0161'))
  })
})

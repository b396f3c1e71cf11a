import { noise } from '@chainsafe/libp2p-noise'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import { pointNoise } from '../src/point-noise.ts'
import { readFrameLength, readLengthsQuietly } from '../src/quiet-noise.ts'
import { receive, securedPair } from './fixtures/secured-pair.ts'
import type { SecuredConnection } from '@libp2p/interface'

function lengthDecoderOf (secured: SecuredConnection): unknown {
  return (secured.connection as unknown as { decoder: { lengthDecoder: unknown } }).decoder.lengthDecoder
}

describe('quiet noise', () => {
  it('reads a big-endian two-byte length from contiguous and split bytes', () => {
    expect(readFrameLength(Uint8Array.of(0x01, 0x02, 0xff))).to.equal(0x0102)
    expect(readFrameLength(Uint8Array.of(0xff, 0xff))).to.equal(0xffff)
    expect(readFrameLength(new Uint8ArrayList(Uint8Array.of(0x12), Uint8Array.of(0x34, 0x56)))).to.equal(0x1234)
  })

  it('reads 0 from fewer than two bytes, without an exception', () => {
    expect(readFrameLength(new Uint8Array(0))).to.equal(0)
    expect(readFrameLength(Uint8Array.of(0xff))).to.equal(0)
    expect(readFrameLength(new Uint8ArrayList(Uint8Array.of(0xff)))).to.equal(0)
  })

  it('frames data fed one byte at a time as LengthPrefixedDecoder reads them', () => {
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: readFrameLength, encodingLength: () => 2 })
    // an empty frame among them, which noise never sends and the decoder skips
    const stream = Uint8Array.of(0x00, 0x03, 1, 2, 3, 0x00, 0x00, 0x00, 0x01, 4, 0x01, 0x00, ...new Uint8Array(256).fill(5))
    const frames: number[][] = []

    for (const byte of stream) {
      for (const frame of decoder.decode(Uint8Array.of(byte))) {
        frames.push([...frame.subarray()])
      }
    }

    expect(frames).to.deep.equal([[1, 2, 3], [4], new Array(256).fill(5)])
  })

  it('has the connections it secures read lengths with readFrameLength, and noise\'s own do not', async () => {
    const quiet = await securedPair(pointNoise())
    const own = await securedPair(noise())

    expect(lengthDecoderOf(quiet.point)).to.equal(readFrameLength)
    expect(lengthDecoderOf(own.point)).to.be.a('function').and.not.equal(readFrameLength)
  })

  it('carries data both ways, messages of one byte to several noise frames long', async () => {
    const { client, point } = await securedPair(pointNoise())
    // noise frames carry at most 65,519 bytes of data
    const messages = [1, 2, 100, 65_519, 65_520, 200_000].map((length, index) => new Uint8Array(length).fill(index + 1))
    const total = messages.reduce((sum, message) => sum + message.byteLength, 0)
    const expected = new Uint8ArrayList(...messages).subarray()

    const atPoint = receive(point.connection, total)
    const atClient = receive(client.connection, total)

    for (const message of messages) {
      client.connection.send(message)
      point.connection.send(message)
    }

    expect(await atPoint).to.equalBytes(expected)
    expect(await atClient).to.equalBytes(expected)
  })

  it('leaves a connection that does not read noise frames as it is', () => {
    const varintDecoder = new LengthPrefixedDecoder()
    const withVarints = { connection: { decoder: varintDecoder } } as unknown as SecuredConnection
    const withoutDecoder = { connection: {} } as unknown as SecuredConnection
    const lengthDecoder = lengthDecoderOf(withVarints)

    expect(readLengthsQuietly(withVarints)).to.equal(withVarints)
    expect(lengthDecoderOf(withVarints)).to.equal(lengthDecoder).and.not.equal(readFrameLength)
    expect(readLengthsQuietly(withoutDecoder)).to.equal(withoutDecoder)
  })
})

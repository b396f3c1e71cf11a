import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { LengthPrefixedDecoder, multiaddrConnectionPair } from '@libp2p/utils'
import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import { quietNoise, readFrameLength, readLengthsQuietly } from '../src/quiet-noise.ts'
import type { NoiseComponents } from '@chainsafe/libp2p-noise'
import type { MessageStream, SecuredConnection, Upgrader } from '@libp2p/interface'

async function components (): Promise<NoiseComponents> {
  const privateKey = await generateKeyPair('Ed25519')

  return {
    privateKey,
    peerId: peerIdFromPrivateKey(privateKey),
    logger: defaultLogger(),
    upgrader: { getStreamMuxers: () => new Map() } as unknown as Upgrader
  }
}

/**
 * A client's connection secured by noise as js-libp2p has it, and the
 * point's by `encrypter`
 */
async function securedPair (encrypter: typeof noise): Promise<{ client: SecuredConnection, point: SecuredConnection }> {
  const [outbound, inbound] = multiaddrConnectionPair()
  const clientComponents = await components()
  const pointComponents = await components()
  const [client, point] = await Promise.all([
    noise()(clientComponents).secureOutbound(outbound, { remotePeer: pointComponents.peerId, skipStreamMuxerNegotiation: true }),
    encrypter()(pointComponents).secureInbound(inbound, { skipStreamMuxerNegotiation: true })
  ])

  expect(point.remotePeer.equals(clientComponents.peerId)).to.be.true()
  return { client, point }
}

/**
 * Resolves with the first `length` bytes `stream` receives
 */
async function receive (stream: MessageStream, length: number): Promise<Uint8Array> {
  const received = new Uint8ArrayList()

  return new Promise(resolve => {
    stream.addEventListener('message', (event) => {
      received.append(event.data)

      if (received.byteLength >= length) {
        resolve(received.subarray(0, length))
      }
    })
  })
}

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
    const quiet = await securedPair(quietNoise)
    const own = await securedPair(noise)

    expect(lengthDecoderOf(quiet.point)).to.equal(readFrameLength)
    expect(lengthDecoderOf(own.point)).to.be.a('function').and.not.equal(readFrameLength)
  })

  it('carries data both ways, messages of one byte to several noise frames long', async () => {
    const { client, point } = await securedPair(quietNoise)
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

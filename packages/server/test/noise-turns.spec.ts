import { noise } from '@chainsafe/libp2p-noise'
import { expect } from 'aegir/chai'
import { Uint8ArrayList } from 'uint8arraylist'
import { pointNoiseCrypto } from '../src/noise-crypto.ts'
import { encryptOncePerTurn } from '../src/noise-turns.ts'
import { pointNoise } from '../src/point-noise.ts'
import { receive, securedPair } from './fixtures/secured-pair.ts'
import type { ICryptoInterface } from '@chainsafe/libp2p-noise'
import type { MessageStream, SecuredConnection } from '@libp2p/interface'

const turnEnds = async (): Promise<void> => new Promise(resolve => setImmediate(resolve))

/**
 * The point's noise, counting the messages it encrypts
 */
function countingNoise (): { encrypter: ReturnType<typeof pointNoise>, encrypted(): number } {
  let encrypted = 0
  const crypto: ICryptoInterface = {
    ...pointNoiseCrypto,
    chaCha20Poly1305Encrypt (...args) {
      encrypted++
      return pointNoiseCrypto.chaCha20Poly1305Encrypt(...args)
    }
  }

  return { encrypter: pointNoise({ crypto }), encrypted: () => encrypted }
}

describe('noise turns', () => {
  it('encrypts what one turn writes as one message, and what the next writes as another', async () => {
    const { encrypter, encrypted } = countingNoise()
    const { client, point } = await securedPair(encrypter)
    const afterHandshake = encrypted()
    const atClient = receive(client.connection, 9)

    expect(point.connection.send(Uint8Array.of(1, 2))).to.be.true()
    point.connection.send(new Uint8ArrayList(Uint8Array.of(3), Uint8Array.of(4, 5)))
    // what a handler writes after an await, in the same turn
    await Promise.resolve()
    point.connection.send(Uint8Array.of(6))
    expect(encrypted()).to.equal(afterHandshake)

    await turnEnds()
    expect(encrypted()).to.equal(afterHandshake + 1)

    point.connection.send(Uint8Array.of(7, 8, 9))
    await turnEnds()
    expect(encrypted()).to.equal(afterHandshake + 2)
    expect(await atClient).to.equalBytes(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9))
  })

  it('splits what a turn writes at noise\'s largest message', async () => {
    const { encrypter, encrypted } = countingNoise()
    const { client, point } = await securedPair(encrypter)
    const afterHandshake = encrypted()
    const first = new Uint8Array(65_000).fill(1)
    const second = new Uint8Array(70_000).fill(2)
    const atClient = receive(client.connection, first.byteLength + second.byteLength)

    point.connection.send(first)
    point.connection.send(second)

    expect(await atClient).to.equalBytes(new Uint8ArrayList(first, second).subarray())
    // 135,000 bytes in messages of at most 65,519
    expect(encrypted()).to.equal(afterHandshake + 3)
  })

  it('sends what is queued when the connection it runs on closes in the same turn', async () => {
    const { client, point, pointConnection } = await securedPair(pointNoise())
    const atClient = receive(client.connection, 3)

    point.connection.send(Uint8Array.of(1, 2, 3))
    await pointConnection.close()

    expect(await atClient).to.equalBytes(Uint8Array.of(1, 2, 3))
  })

  it('throws at a write once the connection is closed, as noise\'s own does', async () => {
    for (const encrypter of [pointNoise(), noise()]) {
      const { point, pointConnection } = await securedPair(encrypter)
      await pointConnection.close()

      expect(() => point.connection.send(Uint8Array.of(1))).to.throw().with.property('name', 'StreamStateError')
    }
  })

  it('answers false to a write while the connection waits to drain, and sends it with the rest when it is asked to', async () => {
    const sent: Uint8Array[] = []
    const queue = {
      writeBuffer: new Uint8ArrayList(),
      writableNeedsDrain: false,
      writeStatus: 'writable',
      send: (_data: Uint8Array): boolean => { throw new Error('sent at once') },
      processSendQueue (): boolean {
        sent.push(queue.writeBuffer.subarray())
        queue.writeBuffer.consume(queue.writeBuffer.byteLength)
        return true
      }
    }
    const connection = { close: async () => {} }
    encryptOncePerTurn({ connection: queue } as unknown as SecuredConnection, connection as unknown as MessageStream)

    expect(queue.send(Uint8Array.of(1))).to.be.true()
    queue.writableNeedsDrain = true
    expect(queue.send(Uint8Array.of(2))).to.be.false()
    expect(sent).to.be.empty()

    await turnEnds()
    expect(sent).to.deep.equal([Uint8Array.of(1, 2)])

    // nothing queued: nothing sent
    await connection.close()
    expect(sent).to.have.lengthOf(1)
  })

  it('leaves a connection that does not queue its writes as noise does as it is', () => {
    const send = (): boolean => true
    const other = { connection: { send } } as unknown as SecuredConnection
    const connection = { close: async () => {} }
    const close = connection.close

    encryptOncePerTurn(other, connection as unknown as MessageStream)
    expect(other.connection.send).to.equal(send)
    expect(connection.close).to.equal(close)
  })
})

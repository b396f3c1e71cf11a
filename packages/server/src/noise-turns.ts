import { oncePerTurn } from './turn-end.ts'
import type { MessageStream, SecuredConnection } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

/**
 * The part of noise's secured connection (an `AbstractMessageStream` of
 * `@libp2p/utils`) that queues what is written to it and sends it
 */
interface NoiseSendQueue {
  send(data: Uint8Array | Uint8ArrayList): boolean
  processSendQueue(): boolean
  writeBuffer: Uint8ArrayList
  writableNeedsDrain: boolean
  writeStatus: string
}

/**
 * Has a connection noise secured encrypt what is written to it during one
 * turn of the event loop as one noise message (more only past noise's
 * 65,519 bytes), sent when the turn ends (`atTurnEnd()`).
 *
 * yamux writes each of its frames to noise on its own, and noise encrypts
 * each as a message of its own: answering a request on a new stream wrote
 * four or five (the window update, the stream's acknowledgement,
 * multistream-select's answer, the response, the end of the stream), each
 * with its own ChaCha20-Poly1305 pass and 18 bytes of length and tag, for
 * the client to decrypt one by one. Until noise or `@libp2p/utils` sends
 * per turn (docs/upstream/noise-message-per-frame.md), the point's
 * connections queue what is written in a turn.
 *
 * libp2p closes `connection`, the connection noise runs on, right after the
 * muxer has written its last frames, in the same turn: closing it first
 * sends what is queued. A write to a connection that no longer writes
 * throws, as noise's own does; one to a connection waiting for its socket
 * to drain returns `false` and is sent with what is queued when it drains.
 * A connection built otherwise (another encrypter) is left as it is.
 */
export function encryptOncePerTurn (secured: SecuredConnection<any>, connection: MessageStream): void {
  const queue = secured.connection as unknown as Partial<NoiseSendQueue>

  if (typeof queue.send !== 'function' || typeof queue.processSendQueue !== 'function' || typeof queue.writeBuffer?.append !== 'function') {
    return
  }

  const noiseQueue = queue as NoiseSendQueue
  const send = noiseQueue.send.bind(noiseQueue)
  const close = connection.close.bind(connection)

  const flush = (): void => {
    if (noiseQueue.writeBuffer.byteLength === 0) {
      return
    }

    try {
      noiseQueue.processSendQueue()
    } catch {
      // processSendQueue has aborted the connection, as a write would have
    }
  }

  const flushAtTurnEnd = oncePerTurn(flush)

  noiseQueue.send = (data) => {
    if (noiseQueue.writeStatus !== 'writable') {
      return send(data)
    }

    noiseQueue.writeBuffer.append(data)
    flushAtTurnEnd()
    return !noiseQueue.writableNeedsDrain
  }

  connection.close = async (options) => {
    flush()
    return close(options)
  }
}

import { tcp } from '@libp2p/tcp'
import { oncePerTurn } from './turn-end.ts'
import { withProperty } from './with-property.ts'
import type { CreateListenerOptions, MultiaddrConnection, Transport, Upgrader } from '@libp2p/interface'
import type { TCPOptions, TCPComponents } from '@libp2p/tcp'
import type { Socket } from 'node:net'

/**
 * `@libp2p/tcp`, with what the point writes on an inbound connection during
 * one turn of the event loop sent in one system call. `@libp2p/tcp` writes
 * each buffer it is given to its socket at once: a noise message is two (its
 * length, then the ciphertext), and multistream-select writes each of its
 * lines before noise starts; on loopback a write costs the sender the
 * receiver's TCP processing too. Until `@libp2p/tcp` corks its sockets itself
 * (docs/upstream/libp2p-tcp-cork.md), the point corks each connection's
 * socket at its first write in a turn and uncorks it when the turn ends.
 */
export function corkedTcp (init?: TCPOptions): (components: TCPComponents) => Transport {
  const factory = tcp(init)

  return (components) => {
    const transport = factory(components)
    const createListener = transport.createListener.bind(transport)

    transport.createListener = (options: CreateListenerOptions) => createListener({
      ...options,
      upgrader: corkingUpgrader(options.upgrader)
    })

    return transport
  }
}

/**
 * An upgrader that corks the sockets of the connections it upgrades
 */
function corkingUpgrader (upgrader: Upgrader): Upgrader {
  return withProperty(upgrader, 'upgradeInbound', async (maConn: MultiaddrConnection, ...rest: any[]) => {
    corkWrites(maConn)
    return upgrader.upgradeInbound(maConn, ...rest as [any])
  })
}

/**
 * The connection `@libp2p/tcp` makes: its socket, and the method that
 * writes to it
 */
interface TcpConnection {
  socket?: Socket
  sendData?(data: unknown): unknown
}

/**
 * Corks the socket of a connection `@libp2p/tcp` made at its first write in
 * a turn of the event loop, and uncorks it at the end of the turn; any other
 * connection is left as it is.
 *
 * The turn ends in `atTurnEnd()`, after the I/O callbacks of the poll phase
 * and every promise chain they started: a response written after an `await`
 * (the store, the stream's async iterator) goes in one system call with the
 * frames written before it. `process.nextTick` would uncork before those
 * promises run, and a new-stream request cost two writes instead of one.
 * Noise's connections send what a turn wrote to them at the turn's end too
 * (`noise-turns.ts`), before the sockets they write to are uncorked.
 */
export function corkWrites (maConn: MultiaddrConnection): void {
  const connection = maConn as unknown as TcpConnection
  const socket = connection.socket
  const sendData = connection.sendData

  // another transport, or another @libp2p/tcp: written as it is
  if (socket == null || typeof socket.cork !== 'function' || typeof sendData !== 'function') {
    return
  }

  const uncorkAtTurnEnd = oncePerTurn(() => { socket.uncork() })

  connection.sendData = (data: unknown): unknown => {
    if (uncorkAtTurnEnd()) {
      socket.cork()
    }

    return sendData.call(connection, data)
  }
}

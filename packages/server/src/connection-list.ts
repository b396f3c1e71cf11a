import type { Connection, Libp2pEvents, PeerId, Startable, TypedEventTarget } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

export interface ConnectionListComponents {
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
}

/**
 * Makes the connection manager's list of all its connections cost a copy.
 * libp2p 3.3's `getConnections()` builds the list from its map of
 * connections by peer, concatenating one array per peer onto a copy of the
 * list so far: quadratic, some 3 ms at 2,000 connections and 55 ms at 10,000
 * (docs/upstream/libp2p-get-connections.md). And it runs twice for every new
 * connection, only for the count: once to check `maxConnections`, once in the
 * pruner. Even in one pass the map's iteration cost 50 µs a call at 2,000.
 *
 * This list follows the same events as the map, `connection:open` and
 * `connection:close`, and listens from `beforeStart`, so that it has a
 * connection before the pruner, which listens from `start`, counts it.
 * The connections of one peer still come from the map.
 */
export function linearConnectionList (): (components: ConnectionListComponents) => Startable {
  return (components) => new ConnectionList(components)
}

class ConnectionList implements Startable {
  private readonly events: TypedEventTarget<Libp2pEvents>
  private readonly connections: Connection[] = []
  private readonly positions = new Map<Connection, number>()

  constructor ({ connectionManager, events }: ConnectionListComponents) {
    this.events = events
    const byPeer = connectionManager.getConnectionsMap()

    connectionManager.getConnections = (peerId?: PeerId): Connection[] => {
      if (peerId != null) {
        return byPeer.get(peerId) ?? []
      }

      // a copy: the pruner sorts what it gets
      return this.connections.slice()
    }
  }

  beforeStart (): void {
    this.events.addEventListener('connection:open', this.onOpen)
    this.events.addEventListener('connection:close', this.onClose)
  }

  start (): void {}

  stop (): void {}

  afterStop (): void {
    this.events.removeEventListener('connection:open', this.onOpen)
    this.events.removeEventListener('connection:close', this.onClose)
    this.connections.length = 0
    this.positions.clear()
  }

  private readonly onOpen = (event: CustomEvent<Connection>): void => {
    if (!this.positions.has(event.detail)) {
      this.positions.set(event.detail, this.connections.length)
      this.connections.push(event.detail)
    }
  }

  private readonly onClose = (event: CustomEvent<Connection>): void => {
    const position = this.positions.get(event.detail)

    if (position == null) {
      return
    }

    // the last one takes its place
    const last = this.connections.pop() as Connection
    this.positions.delete(event.detail)

    if (last !== event.detail) {
      this.connections[position] = last
      this.positions.set(last, position)
    }
  }
}

import type { Connection, PeerId } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'

export interface ConnectionListComponents {
  connectionManager: ConnectionManager
}

/**
 * Makes the connection manager list its connections in time linear in their
 * number. libp2p 3.3's `getConnections()` builds the list by concatenating
 * one array per peer onto a copy of the list so far: quadratic, some 3 ms at
 * 2,000 connections and 55 ms at 10,000, and it runs twice for every new
 * connection, to check `maxConnections`. Until libp2p fixes it
 * (docs/upstream/libp2p-get-connections.md has the figures), the point lists
 * them from the same map, the same way, in one pass.
 */
export function linearConnectionList (): (components: ConnectionListComponents) => Record<string, never> {
  return ({ connectionManager }) => {
    const byPeer = connectionManager.getConnectionsMap()

    connectionManager.getConnections = (peerId?: PeerId): Connection[] => {
      if (peerId != null) {
        return byPeer.get(peerId) ?? []
      }

      const connections: Connection[] = []

      for (const ofPeer of byPeer.values()) {
        for (const connection of ofPeer) {
          connections.push(connection)
        }
      }

      return connections
    }

    return {}
  }
}

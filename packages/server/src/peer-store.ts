import { PeerMap } from '@libp2p/peer-collections'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { CODE_P2P } from '@multiformats/multiaddr'
import type { AbortOptions, ComponentLogger, Libp2pEvents, Logger, Peer, PeerData, PeerId, PeerStore, PeerUpdate, PrivateKey, Startable, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager, ConnectionManager } from '@libp2p/interface-internal'

export interface PointPeerStoreComponents {
  peerId: PeerId
  privateKey: PrivateKey
  peerStore: PeerStore
  addressManager: AddressManager
  connectionManager: ConnectionManager
  events: TypedEventTarget<Libp2pEvents>
  logger: ComponentLogger
}

const ADDRESS_EVENTS = ['self:peer:update', 'transport:listening', 'transport:close'] as const

/**
 * What the point's peer store holds, so that a connection costs no more than
 * it must and nothing about it outlives it:
 *
 * - its own signed peer record, sealed again only when its addresses change:
 * identify sends the stored one, and seals a new one for every connection
 * when there is none
 * - about a client, only what identify learns while it is connected: the
 * point never dials its clients, and the peer store would otherwise keep
 * every client it ever saw
 * - no write for a protocol it holds already: libp2p merges the protocol of
 * every inbound stream into the peer store, a lock, a read, a decode, an
 * encode and a write that cost a one-request stream a third of its CPU,
 * though the protocol is nearly always stored already
 */
export class PointPeerStore implements Startable {
  private readonly components: PointPeerStoreComponents
  private readonly log: Logger
  /**
   * The addresses of the record last sealed, as one string
   */
  private sealed?: string
  private started = false
  /**
   * The stored data of connected peers, as the peer store last returned or
   * reported it
   */
  private readonly connected = new PeerMap<Peer>()
  private readonly merge: PeerStore['merge']

  constructor (components: PointPeerStoreComponents) {
    this.components = components
    this.log = components.logger.forComponent('rendezvous-server:peer-store')
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
    this.onPeerUpdate = this.onPeerUpdate.bind(this)
    this.merge = components.peerStore.merge.bind(components.peerStore)
  }

  isStarted (): boolean {
    return this.started
  }

  start (): void {
    this.started = true
    // the point's addresses change as transports listen or close, and as its
    // own peer data changes (the address manager writes them there)
    for (const event of ADDRESS_EVENTS) {
      this.components.events.addEventListener(event, this.onSelfUpdate)
    }

    this.components.events.addEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.addEventListener('peer:update', this.onPeerUpdate)
    this.components.peerStore.merge = this.mergeUnlessStored.bind(this)
  }

  async afterStart (): Promise<void> {
    await this.sealRecord()
  }

  stop (): void {
    this.started = false
    for (const event of ADDRESS_EVENTS) {
      this.components.events.removeEventListener(event, this.onSelfUpdate)
    }

    this.components.events.removeEventListener('peer:disconnect', this.onDisconnect)
    this.components.events.removeEventListener('peer:update', this.onPeerUpdate)
    this.components.peerStore.merge = this.merge
    this.connected.clear()
  }

  private onSelfUpdate (): void {
    this.sealRecord().catch(err => {
      this.log.error('could not seal the peer record - %e', err)
    })
  }

  private onPeerUpdate (event: CustomEvent<PeerUpdate>): void {
    this.remember(event.detail.peer)
  }

  /**
   * Keeps what the peer store holds of a connected peer
   */
  private remember (peer: Peer): void {
    if (this.components.connectionManager.getConnections(peer.id).length > 0) {
      this.connected.set(peer.id, peer)
    }
  }

  /**
   * The peer store's `merge`, but a merge of protocols a connected peer
   * has stored already changes nothing, and returns what is stored at once
   */
  private async mergeUnlessStored (peerId: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> {
    const stored = this.connected.get(peerId)

    if (stored != null && isProtocolsOnly(data) && data.protocols.every(protocol => stored.protocols.includes(protocol))) {
      return stored
    }

    const peer = await this.merge(peerId, data, options)
    this.remember(peer)
    return peer
  }

  private onDisconnect (event: CustomEvent<PeerId>): void {
    this.connected.delete(event.detail)
    this.components.peerStore.delete(event.detail).catch(err => {
      this.log.error('could not forget %p - %e', event.detail, err)
    })
  }

  /**
   * Seals the record of the addresses identify sends, unless the stored one
   * has them already
   */
  private async sealRecord (): Promise<void> {
    const { peerId, privateKey, peerStore, addressManager } = this.components
    const multiaddrs = addressManager.getAddresses().map(ma => ma.decapsulateCode(CODE_P2P))
    const addresses = multiaddrs.map(ma => ma.toString()).join(' ')

    // without addresses there is nothing to seal: identify sends no record
    if (addresses === this.sealed || multiaddrs.length === 0 || !this.started) {
      return
    }

    this.sealed = addresses
    const envelope = await RecordEnvelope.seal(new PeerRecord({ peerId, multiaddrs }), privateKey)
    await peerStore.patch(peerId, { peerRecordEnvelope: envelope.marshal() })
    this.log('sealed the peer record of %s', addresses)
  }
}

/**
 * Whether a merge adds protocols and nothing else
 */
function isProtocolsOnly (data: PeerData): data is PeerData & { protocols: string[] } {
  for (const key in data) {
    if (key !== 'protocols') {
      return false
    }
  }

  return Array.isArray(data.protocols)
}

/**
 * The service that keeps the point's peer store small and its writes few
 */
export function pointPeerStore (): (components: PointPeerStoreComponents) => PointPeerStore {
  return (components) => new PointPeerStore(components)
}

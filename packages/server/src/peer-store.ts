import { PeerSet } from '@libp2p/peer-collections'
import { PeerRecord, RecordEnvelope } from '@libp2p/peer-record'
import { CODE_P2P } from '@multiformats/multiaddr'
import { ADDRESS_EVENTS } from './own-addresses.ts'
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

/**
 * What the point's peer store holds, so that a connection costs no more than
 * it must and nothing about it outlives it:
 *
 * - its own signed peer record, sealed again only when its addresses change:
 * identify sends the stored one, and seals a new one for every connection
 * when there is none
 * - its own peer data, read once until it changes: identify reads it to
 * answer every client, a lock, a read and a decode each time
 * - nothing of the protocols its clients open streams for: libp2p merges the
 * protocol of every inbound stream into the peer store, a lock, a read, a
 * decode, an encode and a write, though nothing on a point reads them (it
 * dials no one and has no topologies): about a tenth of what a new client cost
 * - whatever else is written of a client (identify-push), only while it is
 * connected: the peer store would otherwise keep every client it ever saw
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
   * Connected peers the peer store holds something of, to forget when they
   * disconnect
   */
  private readonly stored = new PeerSet()
  /**
   * The point's own peer data as the peer store last returned it, until it
   * changes
   */
  private self?: Promise<Peer>
  private readonly merge: PeerStore['merge']
  private readonly get: PeerStore['get']

  constructor (components: PointPeerStoreComponents) {
    this.components = components
    this.log = components.logger.forComponent('rendezvous-server:peer-store')
    this.onSelfUpdate = this.onSelfUpdate.bind(this)
    this.onDisconnect = this.onDisconnect.bind(this)
    this.onPeerUpdate = this.onPeerUpdate.bind(this)
    this.merge = components.peerStore.merge.bind(components.peerStore)
    this.get = components.peerStore.get.bind(components.peerStore)
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
    this.components.peerStore.merge = this.mergeExceptClientProtocols.bind(this)
    this.components.peerStore.get = this.getSelfOnce.bind(this)
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
    this.components.peerStore.get = this.get
    this.self = undefined
    this.stored.clear()
  }

  private onSelfUpdate (): void {
    this.self = undefined
    this.sealRecord().catch(err => {
      this.log.error('could not seal the peer record - %e', err)
    })
  }

  private onPeerUpdate (event: CustomEvent<PeerUpdate>): void {
    const { id } = event.detail.peer

    if (!id.equals(this.components.peerId) && this.components.connectionManager.getConnections(id).length > 0) {
      this.stored.add(id)
    }
  }

  /**
   * The peer store's `merge`, except that a merge of another peer's
   * protocols, and nothing else, writes nothing: it answers with the peer as
   * far as the merge tells. libp2p's merge for each inbound stream is the
   * only one, and it discards the answer.
   */
  private async mergeExceptClientProtocols (peerId: PeerId, data: PeerData, options?: AbortOptions): Promise<Peer> {
    if (isProtocolsOnly(data) && !peerId.equals(this.components.peerId)) {
      return { id: peerId, addresses: [], protocols: data.protocols, metadata: new Map(), tags: new Map() }
    }

    return this.merge(peerId, data, options)
  }

  /**
   * The peer store's `get`, but the point's own data is read once until it
   * changes: every change to it is a `self:peer:update`
   */
  private async getSelfOnce (peerId: PeerId, options?: AbortOptions): Promise<Peer> {
    if (!peerId.equals(this.components.peerId)) {
      return this.get(peerId, options)
    }

    this.self ??= this.get(peerId, options).catch(err => {
      this.self = undefined
      throw err
    })

    return this.self
  }

  private onDisconnect (event: CustomEvent<PeerId>): void {
    if (!this.stored.has(event.detail)) {
      return
    }

    this.stored.delete(event.detail)
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

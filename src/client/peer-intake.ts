import { CODE_P2P } from '@multiformats/multiaddr'
import { openSignedPeerRecord } from '../signed-peer-record.ts'
import { SeenPeers } from './seen-peers.ts'
import type { OpenedPeerRecord } from '../signed-peer-record.ts'
import type { Logger, PeerId, PeerInfo, PeerStore } from '@libp2p/interface'
import type { ConnectionManager } from '@libp2p/interface-internal'
import type { PeerRecord } from '@libp2p/peer-record'
import type { Multiaddr } from '@multiformats/multiaddr'

/**
 * Decides whether a discovered peer is emitted and stored
 */
export type PeerFilter = (peer: PeerInfo) => boolean | Promise<boolean>

export interface PeerIntakeComponents {
  peerId: PeerId
  peerStore: PeerStore
  connectionManager: ConnectionManager
}

export interface PeerIntakeInit {
  /**
   * `true`: peers with an address this node can dial; `false`: every peer;
   * or the user's own filter
   */
  peerFilter: boolean | PeerFilter
  tagName: string
  tagValue: number
  maxPeers: number
  /**
   * How long the dialability check may take, in ms
   */
  timeout: number
  log: Logger
  /**
   * Called with each peer to emit
   */
  emit(peer: PeerInfo): void
}

/**
 * A registration as a DISCOVER returns it
 */
export interface DiscoveredRegistration {
  signedPeerRecord: Uint8Array
  /**
   * How long it has left, in ms
   */
  ttl: number
}

/**
 * Takes the registrations polls bring in: opens and verifies each record
 * (either format), skips this node's own, and emits each peer the filter
 * accepts once, until its registration lapses or its record changes. An
 * emitted peer's addresses go into the peer store (certified when the record
 * is in the standard format), with a tag that lasts as long as its
 * registration.
 */
export class PeerIntake {
  private readonly components: PeerIntakeComponents
  private readonly init: PeerIntakeInit
  private readonly log: Logger
  private readonly seen: SeenPeers

  constructor (components: PeerIntakeComponents, init: PeerIntakeInit) {
    this.components = components
    this.init = init
    this.log = init.log
    this.seen = new SeenPeers(init.maxPeers)
  }

  /**
   * Takes one registration; resolves with the peer id of its record when the
   * record verifies (this node's own included), else `undefined`
   */
  async consider (registration: DiscoveredRegistration): Promise<PeerId | undefined> {
    const opened = await openRegistration(registration.signedPeerRecord, this.log)

    if (opened == null) {
      return undefined
    }

    const { record, format } = opened
    const peerId = record.peerId

    if (peerId.equals(this.components.peerId)) {
      return peerId
    }

    const key = peerId.toString()
    const now = Date.now()
    const expiresAt = now + registration.ttl
    const seen = this.seen.check(key, record.seqNumber, expiresAt, now)

    if (seen === 'extended') {
      // it registered again: its tag lasts as long as the new registration
      await this.components.peerStore.merge(peerId, { tags: this.tag(registration.ttl) })
        .catch((err: any) => { this.log('could not tag %p - %e', peerId, err) })
    }

    if (seen !== 'new') {
      return peerId
    }

    const peer: PeerInfo = { id: peerId, multiaddrs: recordAddresses(record) }

    if (!await this.accepts(peer)) {
      this.log('%p has no address this node takes, not emitting it', peerId)
      return peerId
    }

    try {
      if (format === 'standard') {
        await this.components.peerStore.consumePeerRecord(registration.signedPeerRecord, { expectedPeer: peerId })
        await this.components.peerStore.merge(peerId, { tags: this.tag(registration.ttl) })
      } else {
        // the peer store opens only standard records: the addresses go in
        // uncertified
        await this.components.peerStore.merge(peerId, { multiaddrs: peer.multiaddrs, tags: this.tag(registration.ttl) })
      }
    } catch (err: any) {
      this.log('could not store the record of %p - %e', peerId, err)
      return peerId
    }

    // another poll may have taken the same record while this one stored it
    if (this.seen.check(key, record.seqNumber, expiresAt, Date.now()) !== 'new') {
      return peerId
    }

    this.seen.add(key, record.seqNumber, expiresAt, Date.now())
    this.init.emit(peer)

    return peerId
  }

  /**
   * Forgets every peer emitted, so each is emitted again
   */
  clear (): void {
    this.seen.clear()
  }

  private tag (ttl: number): Record<string, { value: number, ttl: number }> {
    return { [this.init.tagName]: { value: this.init.tagValue, ttl } }
  }

  private async accepts (peer: PeerInfo): Promise<boolean> {
    const filter = this.init.peerFilter

    try {
      if (filter === false) {
        return true
      }

      if (filter === true) {
        return await this.components.connectionManager.isDialable(peer.multiaddrs, { signal: AbortSignal.timeout(this.init.timeout) })
      }

      return await filter(peer)
    } catch (err: any) {
      this.log('the peer filter failed for %p - %e', peer.id, err)
      return false
    }
  }
}

/**
 * A registration's record when it verifies, in either format, else
 * `undefined`
 */
export async function openRegistration (signedPeerRecord: Uint8Array, log: Logger): Promise<OpenedPeerRecord | undefined> {
  try {
    return await openSignedPeerRecord(signedPeerRecord)
  } catch (err: any) {
    log('ignoring a registration that does not verify - %e', err)
    return undefined
  }
}

/**
 * A record's addresses without a trailing `/p2p/<its own peer id>`, which
 * some peers (canvas-js) sign in: libp2p stores addresses without it, and
 * would otherwise keep each one twice
 */
export function recordAddresses (record: PeerRecord): Multiaddr[] {
  const peerId = record.peerId.toString()

  return record.multiaddrs.map(ma => {
    const last = ma.getComponents().at(-1)
    return last?.code === CODE_P2P && last.value === peerId ? ma.decapsulateCode(CODE_P2P) : ma
  })
}

import { SECOND } from '../constants.ts'

/**
 * What is known of a peer that was emitted
 */
interface SeenPeer {
  seqNumber: bigint
  expiresAt: number
}

/**
 * The peers a client has emitted, so each is emitted once until its
 * registration lapses or its record changes: bounded, forgetting lapsed
 * peers first and then the one heard of longest ago
 */
export class SeenPeers {
  private readonly maxPeers: number
  private readonly peers = new Map<string, SeenPeer>()

  constructor (maxPeers: number) {
    this.maxPeers = maxPeers
  }

  get size (): number {
    return this.peers.size
  }

  /**
   * Whether the peer was emitted with this record or a newer one and its
   * registration has not lapsed by `now`. If so, what is known of its expiry
   * is extended to `expiresAt`, and the result says whether that moved it by
   * half the registration's remaining TTL or more, as a renewal does: not
   * points listing one registration (their expiries are up to a second
   * apart, wire TTLs being whole seconds), nor a registration made again
   * soon after the last.
   */
  check (peerId: string, seqNumber: bigint, expiresAt: number, now: number): 'new' | 'known' | 'extended' {
    const seen = this.peers.get(peerId)

    if (seen == null || seen.expiresAt <= now || seen.seqNumber < seqNumber) {
      return 'new'
    }

    if (expiresAt <= seen.expiresAt) {
      return 'known'
    }

    const moved = expiresAt - seen.expiresAt
    seen.expiresAt = expiresAt
    return moved >= Math.max(SECOND, (expiresAt - now) / 2) ? 'extended' : 'known'
  }

  /**
   * Records an emitted peer as the most recently heard of
   */
  add (peerId: string, seqNumber: bigint, expiresAt: number, now: number): void {
    this.peers.delete(peerId)
    this.makeRoom(now)
    this.peers.set(peerId, { seqNumber, expiresAt })
  }

  clear (): void {
    this.peers.clear()
  }

  /**
   * Below `maxPeers`: drops lapsed peers, then the oldest
   */
  private makeRoom (now: number): void {
    if (this.peers.size < this.maxPeers) {
      return
    }

    for (const [peerId, peer] of this.peers) {
      if (peer.expiresAt <= now) {
        this.peers.delete(peerId)
      }
    }

    // a Map iterates in insertion order: the first is the oldest
    for (const peerId of this.peers.keys()) {
      if (this.peers.size < this.maxPeers) {
        break
      }

      this.peers.delete(peerId)
    }
  }
}

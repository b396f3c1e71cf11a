import { CODE_P2P } from '@multiformats/multiaddr'
import { DEFAULT_MAX_NAMESPACE_LENGTH, DEFAULT_MAX_TTL, MAX_REGISTER_MESSAGE_SIZE, SECOND } from '../constants.ts'
import { Message } from '../pb/rendezvous.ts'
import { sealPeerRecord } from '../signed-peer-record.ts'
import type { PeerRecordFormat } from '../signed-peer-record.ts'
import type { Logger, PeerId, PrivateKey } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface OwnRecordComponents {
  peerId: PeerId
  privateKey: PrivateKey
  addressManager: AddressManager
}

interface Sealed {
  addresses: string
  envelope: Promise<Uint8Array<ArrayBuffer>>
}

/**
 * This node's signed peer record, in each format a point needs, sealed once
 * per set of addresses: registrations that start together share one record
 * rather than each sealing its own with another sequence number
 */
export class OwnRecord {
  private readonly components: OwnRecordComponents
  private readonly log: Logger
  private readonly sealed = new Map<PeerRecordFormat, Sealed>()
  /**
   * The addresses of the record sealed last, in any format
   */
  private lastSealed?: string

  constructor (components: OwnRecordComponents, log: Logger) {
    this.components = components
    this.log = log
  }

  /**
   * Whether this node has an address to announce: a browser node has none
   * until a relay gives it one
   */
  hasAddresses (): boolean {
    return this.addresses().length > 0
  }

  /**
   * Whether the node's addresses differ from those in the record sealed last
   * (or nothing was sealed yet)
   */
  changed (): boolean {
    return key(this.addresses()) !== this.lastSealed
  }

  /**
   * The record with the node's current addresses, in `format`
   */
  async envelope (format: PeerRecordFormat): Promise<Uint8Array<ArrayBuffer>> {
    const multiaddrs = this.addresses()
    const addresses = key(multiaddrs)
    let sealed = this.sealed.get(format)

    if (sealed?.addresses !== addresses) {
      const envelope = this.seal(multiaddrs, format)
      sealed = { addresses, envelope }
      this.sealed.set(format, sealed)
      this.lastSealed = addresses

      // a failed seal is not kept
      envelope.catch(() => {
        if (this.sealed.get(format)?.envelope === envelope) {
          this.sealed.delete(format)
        }
      })
    }

    return sealed.envelope
  }

  clear (): void {
    this.sealed.clear()
    this.lastSealed = undefined
  }

  private addresses (): Multiaddr[] {
    return this.components.addressManager.getAddresses().map(ma => ma.decapsulateCode(CODE_P2P))
  }

  /**
   * Seals a record that fits in a REGISTER of at most 4096 bytes, which nim
   * and nwaku points read at most, whatever the namespace: addresses past
   * that are left out
   */
  private async seal (multiaddrs: Multiaddr[], format: PeerRecordFormat): Promise<Uint8Array<ArrayBuffer>> {
    const longestNamespace = 'x'.repeat(DEFAULT_MAX_NAMESPACE_LENGTH)

    while (true) {
      const envelope = await sealPeerRecord(this.components.privateKey, this.components.peerId, multiaddrs, { format })

      if (registerSize(longestNamespace, envelope) <= MAX_REGISTER_MESSAGE_SIZE || multiaddrs.length <= 1) {
        return envelope
      }

      multiaddrs = multiaddrs.slice(0, -1)
      this.log('signed peer record too large for a REGISTER, leaving out addresses past %d', multiaddrs.length)
    }
  }
}

function key (multiaddrs: Multiaddr[]): string {
  return multiaddrs.map(ma => ma.toString()).join(',')
}

function registerSize (namespace: string, signedPeerRecord: Uint8Array<ArrayBuffer>): number {
  return Message.encode({
    type: Message.MessageType.REGISTER,
    register: { ns: namespace, signedPeerRecord, ttl: BigInt(DEFAULT_MAX_TTL / SECOND) }
  }).byteLength
}

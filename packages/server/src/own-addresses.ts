import { identify } from '@libp2p/identify'
import { withProperty } from './with-property.ts'
import type { Identify, IdentifyComponents, IdentifyInit } from '@libp2p/identify'
import type { Libp2pEvents, Startable, TypedEventTarget } from '@libp2p/interface'
import type { AddressManager } from '@libp2p/interface-internal'
import type { Multiaddr } from '@multiformats/multiaddr'

export interface OwnAddressesComponents {
  addressManager: AddressManager
  events: TypedEventTarget<Libp2pEvents>
}

/**
 * The events after which the point's addresses may differ: a transport
 * listens or closes, or the address manager writes them to the peer store
 * (observed, confirmed or mapped addresses)
 */
export const ADDRESS_EVENTS = ['self:peer:update', 'transport:listening', 'transport:close'] as const

/**
 * How long the point's addresses are kept at most, in ms: a listener on
 * `0.0.0.0` lists the machine's interfaces as they are, and an interface
 * comes and goes without an event
 */
export const OWN_ADDRESSES_LIFETIME = 1000

/**
 * The point's own addresses, worked out once until they change, for
 * identify: it asks the address manager for them to answer every client, and
 * libp2p 3.3's address manager works them out anew each time (its listeners'
 * addresses, each interface of a wildcard one, the observed and mapped ones,
 * as multiaddrs built from strings): 130 µs a call with the command's
 * default listeners on a machine with two interfaces, more with more, and a
 * tenth of what a new client costs the point (docs/upstream/libp2p-address-manager.md).
 *
 * Only identify sees them (`identifyWithOwnAddresses`): the address manager
 * itself asks its own `getAddresses()` when something changed, and must get
 * the new ones.
 */
export class OwnAddresses implements Startable {
  /**
   * The address manager as identify sees it: `getAddresses()` from here,
   * everything else the address manager's own
   */
  readonly addressManager: AddressManager
  private readonly source: AddressManager
  private readonly events: TypedEventTarget<Libp2pEvents>
  private addresses?: Multiaddr[]
  private workedOutAt = 0

  constructor ({ addressManager, events }: OwnAddressesComponents) {
    this.source = addressManager
    this.events = events
    this.addressManager = withProperty(addressManager, 'getAddresses', this.getAddresses)
  }

  /**
   * The point's addresses, as `AddressManager.getAddresses()` returns them
   */
  readonly getAddresses = (): Multiaddr[] => {
    const now = Date.now()

    // a clock set back counts as time gone by
    if (this.addresses == null || Math.abs(now - this.workedOutAt) >= OWN_ADDRESSES_LIFETIME) {
      this.addresses = this.source.getAddresses()
      this.workedOutAt = now
    }

    // a copy: the caller may change what it gets
    return this.addresses.slice()
  }

  // from beforeStart: before any service's `start` listens to the same
  // events, and may ask identify's view of the addresses
  beforeStart (): void {
    for (const event of ADDRESS_EVENTS) {
      this.events.addEventListener(event, this.forget)
    }
  }

  start (): void {}

  stop (): void {}

  afterStop (): void {
    for (const event of ADDRESS_EVENTS) {
      this.events.removeEventListener(event, this.forget)
    }

    this.forget()
  }

  private readonly forget = (): void => {
    this.addresses = undefined
  }
}

/**
 * The service that keeps the point's addresses for identify; identify must
 * come after it in `services`, made by `identifyWithOwnAddresses`
 */
export function ownAddresses (): (components: OwnAddressesComponents) => OwnAddresses {
  return (components) => new OwnAddresses(components)
}

/**
 * identify, seeing the addresses `ownAddresses` keeps
 */
export function identifyWithOwnAddresses (init: IdentifyInit = {}): (components: IdentifyComponents & { ownAddresses: OwnAddresses }) => Identify {
  return (components) => identify(init)(Object.create(components, {
    addressManager: { value: components.ownAddresses.addressManager }
  }))
}

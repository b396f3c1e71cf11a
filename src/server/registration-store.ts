import type { AbortOptions } from '@libp2p/interface'

/**
 * One peer's registration in one namespace, as a store keeps it
 */
export interface Registration {
  /**
   * The registered peer, as a base58btc string
   */
  peerId: string

  /**
   * The namespace the peer registered in
   */
  namespace: string

  /**
   * The signed peer record envelope exactly as the peer sent it
   */
  signedPeerRecord: Uint8Array<ArrayBuffer>

  /**
   * When the registration lapses, in ms since the epoch
   */
  expiresAt: number

  /**
   * Assigned by the store when the registration is written: unique and
   * increasing across the whole store, so a later write (a refresh included)
   * always has a larger sequence than every earlier one. Cookies carry it.
   */
  sequence: number
}

/**
 * A registration about to be written: the store assigns its sequence
 */
export type NewRegistration = Omit<Registration, 'sequence'>

/**
 * The caps a store enforces atomically with each write
 */
export interface RegistrationLimits {
  /**
   * How many namespaces one peer may hold
   */
  maxRegistrationsPerPeer: number

  /**
   * How many registrations the store holds in all
   */
  maxRegistrations: number
}

export interface DiscoverQuery {
  /**
   * The namespace to list, or `undefined` for every namespace
   */
  namespace?: string

  /**
   * Only registrations with a larger sequence are returned (`0` for all)
   */
  after: number

  /**
   * The most registrations to return
   */
  limit: number

  /**
   * The current time in ms since the epoch: registrations that expire at or
   * before it are not returned
   */
  now: number
}

export interface DiscoverPage {
  /**
   * Live registrations in ascending sequence order
   */
  registrations: Registration[]

  /**
   * The sequence to pass as `after` for the next page or poll
   */
  cursor: number
}

/**
 * Where a rendezvous point keeps its registrations.
 *
 * The protocol handler only talks to this interface, so a persistent or a
 * shared store plugs in without changes to it. A store that implements
 * `start()` / `stop()` is started and stopped with the server.
 */
export interface RegistrationStore {
  /**
   * Adds the registration of (`peerId`, `namespace`), replacing any earlier
   * one, and returns it with its new sequence. A refresh of an existing
   * registration is always allowed; otherwise throws `NotAuthorizedError`
   * when the peer holds `maxRegistrationsPerPeer` namespaces and
   * `UnavailableError` when the store holds `maxRegistrations`.
   *
   * The registration must be durable when the promise resolves: the point
   * acknowledges it right after.
   */
  put(registration: NewRegistration, limits: RegistrationLimits, options?: AbortOptions): Promise<Registration>

  /**
   * Removes the registration of (`peerId`, `namespace`); a no-op when there
   * is none
   */
  delete(peerId: string, namespace: string, options?: AbortOptions): Promise<void>

  /**
   * Lists live registrations after a sequence, in sequence order, in
   * O(limit + log n)
   */
  discover(query: DiscoverQuery, options?: AbortOptions): Promise<DiscoverPage>

  /**
   * How many registrations are stored (expired ones not yet reclaimed may be
   * counted)
   */
  count(): number | Promise<number>

  /**
   * Whether `peerId` holds a registration live at `now` (ms), in any
   * namespace, whose signed peer record is `signedPeerRecord` byte for byte.
   * The point verified that record when it stored it, so a REGISTER that
   * sends it again skips the signature check. Optional: without it, every
   * record is verified.
   */
  holdsRecord?(peerId: string, signedPeerRecord: Uint8Array, now: number): boolean | Promise<boolean>

  start?(): void | Promise<void>
  stop?(): void | Promise<void>
}

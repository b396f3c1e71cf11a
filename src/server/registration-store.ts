import { NAMESPACE_OVERHEAD_BYTES, REGISTRATION_OVERHEAD_BYTES } from '../constants.ts'
import { NotAuthorizedError, UnavailableError } from '../errors.ts'
import type { RendezvousError } from '../errors.ts'
import type { AbortOptions } from '@libp2p/interface'

const UTF8 = new TextEncoder()

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
   * The host the registration counts against for `maxRegistrationsPerHost`
   * (see `hostOf()`), or `undefined` when no host cap applies to it (an
   * allow-listed address). A refresh keeps the host the registration was
   * first counted against.
   */
  host?: string

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
 * The caps a store enforces atomically with each write. A refresh of a
 * registration the store holds never counts as one more registration; it
 * passes the byte budget when it does not grow.
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

  /**
   * How many bytes the registrations may take in all, reckoned by
   * `registrationBytes()` per registration plus `namespaceBytes()` per
   * namespace held
   */
  maxStoreBytes: number

  /**
   * How many registrations one host may hold, over all its peers: counts the
   * registrations whose `host` is that of the one written
   */
  maxRegistrationsPerHost: number
}

/**
 * What a registration whose signed peer record is `recordLength` bytes costs
 * against `maxStoreBytes`: the record plus what a store spends on any
 * registration (its peer id, indexes and bookkeeping), measured in
 * `MemoryRegistrationStore`
 */
export function registrationBytes (recordLength: number): number {
  return recordLength + REGISTRATION_OVERHEAD_BYTES
}

/**
 * What holding a namespace costs against `maxStoreBytes`, once however many
 * registrations it has: its UTF-8 bytes plus its own index
 */
export function namespaceBytes (namespace: string): number {
  return UTF8.encode(namespace).byteLength + NAMESPACE_OVERHEAD_BYTES
}

/**
 * The refusal of a write past one of the caps, worded alike by every store:
 * throw it from `put()`. `limit` says which cap refused it, for metrics.
 */
export interface LimitRefusal extends RendezvousError {
  limit: keyof RegistrationLimits
}

/**
 * The typed error that refuses a write past `limit`: `NotAuthorizedError`
 * for `maxRegistrationsPerPeer` (as the specification's implementations
 * answer a peer past its cap), `UnavailableError` for the others
 */
export function overLimit (limit: keyof RegistrationLimits, limits: RegistrationLimits, host?: string): LimitRefusal {
  let error: RendezvousError

  switch (limit) {
    case 'maxRegistrationsPerPeer':
      error = new NotAuthorizedError(`peer is registered in ${limits.maxRegistrationsPerPeer} namespaces, the most allowed`)
      break
    case 'maxRegistrations':
      error = new UnavailableError('the rendezvous point is full')
      break
    case 'maxRegistrationsPerHost':
      error = new UnavailableError(`the peers of this host${host == null ? '' : ` (${host})`} hold ${limits.maxRegistrationsPerHost} registrations, the most one host may`)
      break
    default:
      error = new UnavailableError(`the rendezvous point is full: its registrations may take at most ${limits.maxStoreBytes} bytes`)
  }

  return Object.assign(error, { limit })
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

export interface DiscoverPage<R = Registration> {
  /**
   * Live registrations in ascending sequence order
   */
  registrations: R[]

  /**
   * The sequence to pass as `after` for the next page or poll
   */
  cursor: number
}

/**
 * A registration of a page as a DISCOVER response needs it, its record in
 * the form the store holds it: bytes, or a string of one character per byte
 */
export interface HeldRegistration {
  namespace: string

  /**
   * When the registration lapses, in ms since the epoch
   */
  expiresAt: number

  signedPeerRecord: Uint8Array | string
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
   * one, and returns it with its new sequence. Throws `NotAuthorizedError`
   * when the peer holds `maxRegistrationsPerPeer` namespaces,
   * `UnavailableError` when the store holds `maxRegistrations`, and
   * `UnavailableError` when its `host` holds `maxRegistrationsPerHost`,
   * unless it is a refresh of a registration the store holds (which keeps
   * the host it was first counted against); throws `UnavailableError`
   * when the write would take the store past `maxStoreBytes`, which a
   * refresh does only when its record is larger than the one it replaces. A
   * refused write leaves every live registration as it was (it may reclaim
   * expired ones).
   *
   * The registration must be durable when `put()` returns, or when its
   * promise resolves: the point acknowledges it right after. A store that
   * decides without I/O (the memory store) may return the registration, or
   * throw, at once: the point then answers without waiting for a promise.
   *
   * `signedPeerRecord` may be a view into a larger buffer, the request as
   * the point received it: a store that keeps the bytes keeps a copy, so
   * that the buffer can go. (The point does not copy it first: the memory
   * store, Redis and a datastore each copy it into their own form anyway.)
   */
  put(registration: NewRegistration, limits: RegistrationLimits, options?: AbortOptions): Registration | Promise<Registration>

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
   * `discover()`, each record in the form the store holds it. Optional: a
   * store that keeps records as strings of one character per byte (the
   * memory store) lets the point write them into its response without first
   * copying each into bytes of its own.
   */
  discoverHeld?(query: DiscoverQuery, options?: AbortOptions): Promise<DiscoverPage<HeldRegistration>>

  /**
   * How many registrations are stored (expired ones not yet reclaimed may be
   * counted)
   */
  count(): number | Promise<number>

  /**
   * How many hosts hold `maxRegistrationsPerHost` registrations or more, for
   * the point's metrics
   */
  hostsAtLimit?(maxRegistrationsPerHost: number): number | Promise<number>

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

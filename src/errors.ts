import { InvalidParametersError } from '@libp2p/interface'
import { Message } from './pb/rendezvous.ts'

/**
 * A status from the specification's `ResponseStatus` enum
 */
export type ResponseStatus = Message.ResponseStatus

/**
 * A rendezvous point answered a request with a status other than `OK`.
 *
 * Each status of the specification has its own subclass, so callers can
 * branch with `instanceof` or on `name`.
 */
export class RendezvousError extends Error {
  static name = 'RendezvousError'
  name = 'RendezvousError'

  /**
   * The status of the response, e.g. `E_INVALID_TTL`
   */
  readonly status: ResponseStatus

  /**
   * The point's explanation, empty when it sent none
   */
  readonly statusText: string

  constructor (status: ResponseStatus, statusText: string = '', message?: string) {
    super(message ?? (statusText === '' ? status : `${status}: ${statusText}`))
    this.status = status
    this.statusText = statusText
  }
}

/**
 * `E_INVALID_NAMESPACE`: the namespace is missing, empty or too long
 */
export class InvalidNamespaceError extends RendezvousError {
  static name = 'InvalidNamespaceError'
  name = 'InvalidNamespaceError'

  constructor (statusText = 'invalid namespace') {
    super(Message.ResponseStatus.E_INVALID_NAMESPACE, statusText)
  }
}

/**
 * `E_INVALID_SIGNED_PEER_RECORD`: the record does not open as a signed libp2p
 * peer record
 */
export class InvalidSignedPeerRecordError extends RendezvousError {
  static name = 'InvalidSignedPeerRecordError'
  name = 'InvalidSignedPeerRecordError'

  constructor (statusText = 'invalid signed peer record') {
    super(Message.ResponseStatus.E_INVALID_SIGNED_PEER_RECORD, statusText)
  }
}

/**
 * `E_INVALID_TTL`: the TTL is outside what the point admits
 */
export class InvalidTTLError extends RendezvousError {
  static name = 'InvalidTTLError'
  name = 'InvalidTTLError'

  constructor (statusText = 'invalid ttl') {
    super(Message.ResponseStatus.E_INVALID_TTL, statusText)
  }
}

/**
 * `E_INVALID_COOKIE`: the cookie is malformed, forged, or from another
 * namespace
 */
export class InvalidCookieError extends RendezvousError {
  static name = 'InvalidCookieError'
  name = 'InvalidCookieError'

  constructor (statusText = 'invalid cookie') {
    super(Message.ResponseStatus.E_INVALID_COOKIE, statusText)
  }
}

/**
 * `E_NOT_AUTHORIZED`: e.g. a record of another peer, or too many namespaces
 * for one peer
 */
export class NotAuthorizedError extends RendezvousError {
  static name = 'NotAuthorizedError'
  name = 'NotAuthorizedError'

  constructor (statusText = 'not authorized') {
    super(Message.ResponseStatus.E_NOT_AUTHORIZED, statusText)
  }
}

/**
 * `E_INTERNAL_ERROR`: the point failed to process the request
 */
export class InternalError extends RendezvousError {
  static name = 'InternalError'
  name = 'InternalError'

  constructor (statusText = 'internal error') {
    super(Message.ResponseStatus.E_INTERNAL_ERROR, statusText)
  }
}

/**
 * `E_UNAVAILABLE`: the point cannot take the request now, e.g. its store is
 * full
 */
export class UnavailableError extends RendezvousError {
  static name = 'UnavailableError'
  name = 'UnavailableError'

  constructor (statusText = 'unavailable') {
    super(Message.ResponseStatus.E_UNAVAILABLE, statusText)
  }
}

const ERROR_BY_STATUS: Record<Exclude<ResponseStatus, 'OK'>, new (statusText?: string) => RendezvousError> = {
  E_INVALID_NAMESPACE: InvalidNamespaceError,
  E_INVALID_SIGNED_PEER_RECORD: InvalidSignedPeerRecordError,
  E_INVALID_TTL: InvalidTTLError,
  E_INVALID_COOKIE: InvalidCookieError,
  E_NOT_AUTHORIZED: NotAuthorizedError,
  E_INTERNAL_ERROR: InternalError,
  E_UNAVAILABLE: UnavailableError
}

/**
 * The typed error for a status other than `OK` received from a point
 */
export function errorForStatus (status: Exclude<ResponseStatus, 'OK'>, statusText?: string): RendezvousError {
  return new ERROR_BY_STATUS[status](statusText === '' ? undefined : statusText)
}

/**
 * The point closed the stream, or did not answer within the timeout
 */
export class NoResponseError extends Error {
  static name = 'NoResponseError'
  name = 'NoResponseError'
}

/**
 * The point answered with a message that breaks the protocol, e.g. a response
 * of the wrong type, or a registration that does not verify
 */
export class InvalidResponseError extends Error {
  static name = 'InvalidResponseError'
  name = 'InvalidResponseError'
}

/**
 * An option passed to `rendezvous()` or `rendezvousServer()` is invalid. The
 * `option` property names it.
 */
export class InvalidOptionError extends InvalidParametersError {
  static name = 'InvalidOptionError'
  name = 'InvalidOptionError'

  /**
   * The name of the offending option, e.g. `rendezvousPoints`
   */
  readonly option: string

  constructor (option: string, message: string) {
    super(`Invalid option "${option}": ${message}`)
    this.option = option
  }
}

import { InvalidParametersError } from '@libp2p/interface'
import { expect } from 'aegir/chai'
import {
  errorForStatus,
  InternalError,
  InvalidCookieError,
  InvalidNamespaceError,
  InvalidOptionError,
  InvalidSignedPeerRecordError,
  InvalidTTLError,
  NotAuthorizedError,
  RendezvousError,
  UnavailableError
} from '../src/errors.ts'
import { Message } from '../src/pb/rendezvous.ts'
import type { ResponseStatus } from '../src/errors.ts'

const { ResponseStatus: Status } = Message

const CASES: Array<{
  status: Exclude<ResponseStatus, 'OK'>
  type: new (statusText?: string) => RendezvousError
  name: string
  defaultText: string
}> = [
  { status: Status.E_INVALID_NAMESPACE, type: InvalidNamespaceError, name: 'InvalidNamespaceError', defaultText: 'invalid namespace' },
  { status: Status.E_INVALID_SIGNED_PEER_RECORD, type: InvalidSignedPeerRecordError, name: 'InvalidSignedPeerRecordError', defaultText: 'invalid signed peer record' },
  { status: Status.E_INVALID_TTL, type: InvalidTTLError, name: 'InvalidTTLError', defaultText: 'invalid ttl' },
  { status: Status.E_INVALID_COOKIE, type: InvalidCookieError, name: 'InvalidCookieError', defaultText: 'invalid cookie' },
  { status: Status.E_NOT_AUTHORIZED, type: NotAuthorizedError, name: 'NotAuthorizedError', defaultText: 'not authorized' },
  { status: Status.E_INTERNAL_ERROR, type: InternalError, name: 'InternalError', defaultText: 'internal error' },
  { status: Status.E_UNAVAILABLE, type: UnavailableError, name: 'UnavailableError', defaultText: 'unavailable' }
]

describe('errors', () => {
  it('covers every status other than OK', () => {
    const statuses = Object.values(Status).filter(s => typeof s === 'string' && s !== Status.OK)

    expect(CASES.map(c => c.status)).to.have.members(statuses)
  })

  describe('errorForStatus', () => {
    for (const { status, type, name, defaultText } of CASES) {
      it(`returns a ${name} for ${status}`, () => {
        const err = errorForStatus(status, 'the point said no')

        expect(err).to.be.an.instanceOf(type)
        expect(err).to.be.an.instanceOf(RendezvousError)
        expect(err).to.be.an.instanceOf(Error)
        expect(err.name).to.equal(name)
        expect(err.status).to.equal(status)
        expect(err.statusText).to.equal('the point said no')
        expect(err.message).to.include(status)
        expect(err.message).to.include('the point said no')

        // no other subclass matches
        for (const other of CASES) {
          if (other.type !== type) {
            expect(err).to.not.be.an.instanceOf(other.type)
          }
        }
      })

      it(`uses the default statusText for ${status} when given ''`, () => {
        const err = errorForStatus(status, '')

        expect(err).to.be.an.instanceOf(type)
        expect(err.status).to.equal(status)
        expect(err.statusText).to.equal(defaultText)
      })

      it(`uses the default statusText for ${status} when given none`, () => {
        const err = errorForStatus(status)

        expect(err).to.be.an.instanceOf(type)
        expect(err.statusText).to.equal(defaultText)
      })
    }
  })

  describe('RendezvousError', () => {
    it('carries the status and statusText', () => {
      const err = new RendezvousError(Status.E_INVALID_TTL, 'too long')

      expect(err.name).to.equal('RendezvousError')
      expect(err.status).to.equal(Status.E_INVALID_TTL)
      expect(err.statusText).to.equal('too long')
      expect(err.message).to.equal('E_INVALID_TTL: too long')
    })

    it('uses the status as the message when there is no statusText', () => {
      const err = new RendezvousError(Status.E_UNAVAILABLE)

      expect(err.statusText).to.equal('')
      expect(err.message).to.equal('E_UNAVAILABLE')
    })

    it('has static names matching the instance names', () => {
      expect(RendezvousError.name).to.equal('RendezvousError')

      for (const { type, name } of CASES) {
        expect(type.name).to.equal(name)
      }
    })
  })

  describe('InvalidOptionError', () => {
    it('names the option', () => {
      const err = new InvalidOptionError('rendezvousPoints', 'must not be empty')

      expect(err.option).to.equal('rendezvousPoints')
      expect(err.name).to.equal('InvalidOptionError')
      expect(InvalidOptionError.name).to.equal('InvalidOptionError')
      expect(err.message).to.include('rendezvousPoints')
      expect(err.message).to.include('must not be empty')
    })

    it('is an InvalidParametersError', () => {
      const err = new InvalidOptionError('ttl', 'too short')

      expect(err).to.be.an.instanceOf(InvalidParametersError)
      expect(err).to.be.an.instanceOf(Error)
      expect(err).to.not.be.an.instanceOf(RendezvousError)
    })
  })
})

import { expect } from 'aegir/chai'
import fc from 'fast-check'
import { isNamespaceTooLong } from '../src/namespace.ts'

describe('namespace length', () => {
  it('counts UTF-8 bytes, whatever the characters', () => {
    fc.assert(fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), fc.integer({ min: 0, max: 400 }), (namespace, maxBytes) => {
      expect(isNamespaceTooLong(namespace, maxBytes)).to.equal(new TextEncoder().encode(namespace).byteLength > maxBytes)
    }), { numRuns: 2000 })
  })

  it('takes 255 bytes of three-byte characters and refuses one byte more', () => {
    expect(isNamespaceTooLong('€'.repeat(85), 255)).to.be.false()
    expect(isNamespaceTooLong(`${'€'.repeat(85)}a`, 255)).to.be.true()
  })
})

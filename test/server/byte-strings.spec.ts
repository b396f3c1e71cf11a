import { expect } from 'aegir/chai'
import { bytesToString, NodeBuffer, nodeBuffer, stringEqualsBytes, stringWriter } from '../../src/server/byte-strings.ts'

describe('strings of one character per byte', () => {
  const every = Uint8Array.from({ length: 256 }, (_, i) => i)
  const long = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) & 0xff)

  it('holds every byte value, past a chunk of 4096', () => {
    for (const bytes of [every, long, new Uint8Array(0)]) {
      const string = bytesToString(bytes)
      expect(string).to.have.lengthOf(bytes.byteLength)
      expect(Uint8Array.from(string, char => char.charCodeAt(0))).to.equalBytes(bytes)
    }
  })

  it('tells a string from other bytes, through Node.js\'s Buffer and without one', () => {
    for (const buffers of [NodeBuffer, undefined]) {
      // past the scratch buffer's first size, and back: it grows and stays
      for (const bytes of [every, long, new Uint8Array(0), every.subarray(3, 7)]) {
        const string = bytesToString(bytes)
        // a view that does not start its buffer
        const view = new Uint8Array(bytes.byteLength + 5).subarray(5)
        view.set(bytes)
        expect(stringEqualsBytes(string, view, buffers)).to.be.true()
      }

      const string = bytesToString(every)
      for (const at of [0, 200, 255]) {
        const changed = Uint8Array.from(every)
        changed[at] ^= 1
        expect(stringEqualsBytes(string, changed, buffers)).to.be.false()
      }

      expect(stringEqualsBytes(string, every.subarray(1), buffers)).to.be.false()
      expect(stringEqualsBytes(bytesToString(long), long.subarray(0, 9_999), buffers)).to.be.false()
    }
  })

  it('writes strings into bytes at offsets, through Node.js\'s Buffer and without one', () => {
    const strings = [bytesToString(every), bytesToString(long), bytesToString(every.subarray(0, 3))]
    const expected = new Uint8Array([...every, ...long, 0, 1, 2])

    // Node.js's where it runs in Node.js; in a browser there is none
    for (const buffers of [NodeBuffer, undefined]) {
      // a view that does not start its buffer
      const bytes = new Uint8Array(expected.byteLength + 5).subarray(5)
      const write = stringWriter(bytes, buffers)
      let offset = 0

      for (const string of strings) {
        const written = write(string, offset)
        expect(written).to.equal(string.length)
        offset += written
      }

      expect(bytes).to.equalBytes(expected)
    }
  })

  it('takes a Buffer only when it is Node.js\'s, not a polyfill without latin1Write', () => {
    class Polyfill extends Uint8Array {
      static from (): Polyfill { return new Polyfill(0) }
      write (): number { return 0 }
    }

    class WithoutCompare extends Polyfill {
      latin1Write (): number { return 0 }
    }

    expect(nodeBuffer(Polyfill)).to.be.undefined()
    expect(nodeBuffer(WithoutCompare)).to.be.undefined()
    expect(nodeBuffer(undefined)).to.be.undefined()
    expect(nodeBuffer((globalThis as any).Buffer)).to.equal((globalThis as any).Buffer?.prototype?.latin1Write == null ? undefined : (globalThis as any).Buffer)
  })
})

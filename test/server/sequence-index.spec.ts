import { expect } from 'aegir/chai'
import { SequenceIndex } from '../../src/server/sequence-index.ts'
import { prng } from '../fixtures/prng.ts'
import type { Sequenced } from '../../src/server/sequence-index.ts'

/**
 * Entries per chunk in `SequenceIndex`
 */
const CHUNK_SIZE = 256

interface Entry extends Sequenced {
  label: string
}

function entry (sequence: number): Entry {
  return { sequence, label: `entry-${sequence}` }
}

function sequencesAfter (index: SequenceIndex<Entry>, sequence: number): number[] {
  return [...index.after(sequence)].map(e => e.sequence)
}

function range (from: number, to: number): number[] {
  const out: number[] = []

  for (let i = from; i <= to; i++) {
    out.push(i)
  }

  return out
}

describe('sequence index', () => {
  let index: SequenceIndex<Entry>

  beforeEach(() => {
    index = new SequenceIndex<Entry>()
  })

  describe('append and after', () => {
    it('is empty when new', () => {
      expect(index.size).to.equal(0)
      expect(sequencesAfter(index, 0)).to.deep.equal([])
      expect(sequencesAfter(index, -1)).to.deep.equal([])
    })

    it('yields appended entries in order', () => {
      const entries = [entry(10), entry(20), entry(30)]

      for (const e of entries) {
        index.append(e)
      }

      expect(index.size).to.equal(3)
      expect([...index.after(0)]).to.deep.equal(entries)
      // the very objects that were appended
      expect([...index.after(0)][1]).to.equal(entries[1])
    })

    it('yields only entries with a larger sequence', () => {
      for (const s of [10, 20, 30]) {
        index.append(entry(s))
      }

      // before the first
      expect(sequencesAfter(index, 0)).to.deep.equal([10, 20, 30])
      expect(sequencesAfter(index, 9)).to.deep.equal([10, 20, 30])
      // exactly at an entry: that entry is excluded
      expect(sequencesAfter(index, 10)).to.deep.equal([20, 30])
      expect(sequencesAfter(index, 20)).to.deep.equal([30])
      // between entries
      expect(sequencesAfter(index, 11)).to.deep.equal([20, 30])
      expect(sequencesAfter(index, 19)).to.deep.equal([20, 30])
      expect(sequencesAfter(index, 25)).to.deep.equal([30])
      expect(sequencesAfter(index, 29)).to.deep.equal([30])
      // at and after the last
      expect(sequencesAfter(index, 30)).to.deep.equal([])
      expect(sequencesAfter(index, 31)).to.deep.equal([])
      expect(sequencesAfter(index, Number.MAX_SAFE_INTEGER)).to.deep.equal([])
    })

    it('yields the right entries across chunk boundaries', () => {
      // even sequences 2..2000, i.e. 1000 entries over 4 chunks
      const all = range(1, 1000).map(i => i * 2)

      for (const s of all) {
        index.append(entry(s))
      }

      expect(index.size).to.equal(1000)

      // probe every sequence around each chunk boundary, plus both ends
      const probes = [-5, 0, 1, 2, 3, 1999, 2000, 2001, 5000]

      for (let chunk = 1; chunk * CHUNK_SIZE < all.length; chunk++) {
        const boundary = all[chunk * CHUNK_SIZE]
        probes.push(boundary - 3, boundary - 2, boundary - 1, boundary, boundary + 1, boundary + 2)
      }

      for (const probe of probes) {
        expect(sequencesAfter(index, probe)).to.deep.equal(all.filter(s => s > probe), `after(${probe})`)
      }
    })

    it('can stop a scan part way', () => {
      for (const s of range(1, 600)) {
        index.append(entry(s))
      }

      const seen: number[] = []

      for (const e of index.after(250)) {
        seen.push(e.sequence)

        if (seen.length === 10) {
          break
        }
      }

      expect(seen).to.deep.equal(range(251, 260))
    })

    it('throws a RangeError when a sequence does not increase', () => {
      index.append(entry(10))
      index.append(entry(20))

      expect(() => { index.append(entry(20)) }).to.throw(RangeError)
      expect(() => { index.append(entry(15)) }).to.throw(RangeError)
      expect(() => { index.append(entry(0)) }).to.throw(RangeError)

      // the failed appends changed nothing
      expect(index.size).to.equal(2)
      expect(sequencesAfter(index, 0)).to.deep.equal([10, 20])

      index.append(entry(21))
      expect(sequencesAfter(index, 0)).to.deep.equal([10, 20, 21])
    })

    it('throws a RangeError for a non-increasing sequence at a chunk boundary', () => {
      for (const s of range(1, CHUNK_SIZE)) {
        index.append(entry(s))
      }

      // the last chunk is full: the next append would start a new one
      expect(() => { index.append(entry(CHUNK_SIZE)) }).to.throw(RangeError)
      expect(index.size).to.equal(CHUNK_SIZE)

      index.append(entry(CHUNK_SIZE + 1))
      expect(index.size).to.equal(CHUNK_SIZE + 1)
    })
  })

  describe('remove', () => {
    beforeEach(() => {
      for (const s of [10, 20, 30, 40, 50]) {
        index.append(entry(s))
      }
    })

    it('removes the first entry', () => {
      expect(index.remove(entry(10))).to.be.true()
      expect(index.size).to.equal(4)
      expect(sequencesAfter(index, 0)).to.deep.equal([20, 30, 40, 50])
      expect(sequencesAfter(index, 10)).to.deep.equal([20, 30, 40, 50])
    })

    it('removes a middle entry', () => {
      expect(index.remove(entry(30))).to.be.true()
      expect(index.size).to.equal(4)
      expect(sequencesAfter(index, 0)).to.deep.equal([10, 20, 40, 50])
      expect(sequencesAfter(index, 20)).to.deep.equal([40, 50])
      expect(sequencesAfter(index, 30)).to.deep.equal([40, 50])
    })

    it('removes the last entry', () => {
      expect(index.remove(entry(50))).to.be.true()
      expect(index.size).to.equal(4)
      expect(sequencesAfter(index, 0)).to.deep.equal([10, 20, 30, 40])
      expect(sequencesAfter(index, 40)).to.deep.equal([])
    })

    it('returns false for a sequence before the first or between entries', () => {
      expect(index.remove(entry(5))).to.be.false()
      expect(index.remove(entry(25))).to.be.false()
      expect(index.remove(entry(49))).to.be.false()
      expect(index.size).to.equal(5)
      expect(sequencesAfter(index, 0)).to.deep.equal([10, 20, 30, 40, 50])
    })

    it('returns false for a sequence after the last entry', () => {
      expect(index.remove(entry(55))).to.be.false()
      expect(index.size).to.equal(5)
      expect(sequencesAfter(index, 0)).to.deep.equal([10, 20, 30, 40, 50])
    })

    it('returns false for a sequence in the gap between two chunks', () => {
      const chunked = new SequenceIndex<Entry>()

      // even sequences: the first chunk ends at 512, the second starts at 514
      for (let i = 1; i <= 600; i++) {
        chunked.append(entry(i * 2))
      }

      expect(chunked.remove(entry(513))).to.be.false()
      expect(chunked.size).to.equal(600)
    })

    it('returns false when removing an entry twice', () => {
      expect(index.remove(entry(20))).to.be.true()
      expect(index.remove(entry(20))).to.be.false()
      expect(index.size).to.equal(4)
    })

    it('returns false when removing the last entry twice', () => {
      expect(index.remove(entry(50))).to.be.true()
      expect(index.remove(entry(50))).to.be.false()
      expect(index.size).to.equal(4)
    })

    it('returns false on an empty index', () => {
      const empty = new SequenceIndex<Entry>()

      expect(empty.remove(entry(1))).to.be.false()
      expect(empty.size).to.equal(0)
    })

    it('removes every entry', () => {
      for (const s of [30, 10, 50, 20, 40]) {
        expect(index.remove(entry(s))).to.be.true()
      }

      expect(index.size).to.equal(0)
      expect(sequencesAfter(index, 0)).to.deep.equal([])

      // still usable
      index.append(entry(60))
      expect(sequencesAfter(index, 0)).to.deep.equal([60])
    })
  })

  describe('remove across chunks', () => {
    const COUNT = 700
    let model: number[]

    beforeEach(() => {
      model = range(1, COUNT)

      for (const s of model) {
        index.append(entry(s))
      }
    })

    function removeRange (from: number, to: number): void {
      for (let s = from; s <= to; s++) {
        expect(index.remove(entry(s))).to.equal(model.includes(s), `remove(${s})`)
      }

      model = model.filter(s => s < from || s > to)
    }

    function check (): void {
      expect(index.size).to.equal(model.length)

      const probes = [0, 1, 100, 255, 256, 257, 300, 511, 512, 513, 600, 699, 700, 701]

      for (const probe of probes) {
        expect(sequencesAfter(index, probe)).to.deep.equal(model.filter(s => s > probe), `after(${probe})`)
      }
    }

    it('removes the whole first chunk', () => {
      removeRange(1, CHUNK_SIZE)
      check()
    })

    it('removes a whole middle chunk', () => {
      removeRange(CHUNK_SIZE + 1, 2 * CHUNK_SIZE)
      check()
    })

    it('removes the whole last chunk', () => {
      removeRange(2 * CHUNK_SIZE + 1, COUNT)
      check()
    })

    it('removes a range spanning chunks', () => {
      removeRange(200, 600)
      check()
    })

    it('removes every chunk but one', () => {
      removeRange(1, 2 * CHUNK_SIZE)
      removeRange(2 * CHUNK_SIZE + 2, COUNT)
      check()
      expect(sequencesAfter(index, 0)).to.deep.equal([2 * CHUNK_SIZE + 1])
    })

    it('removes the whole last chunk and appends again', () => {
      removeRange(2 * CHUNK_SIZE + 1, COUNT)

      for (const s of range(COUNT + 1, COUNT + 300)) {
        index.append(entry(s))
        model.push(s)
      }

      check()
      expect(sequencesAfter(index, COUNT)).to.deep.equal(range(COUNT + 1, COUNT + 300))
      expect(() => { index.append(entry(COUNT + 300)) }).to.throw(RangeError)
    })

    it('removes everything in ranges and appends again', () => {
      removeRange(300, 700)
      removeRange(1, 299)
      check()
      expect(index.size).to.equal(0)

      index.append(entry(1000))
      model.push(1000)
      check()
    })
  })

  /**
   * Random appends and removes checked against a sorted array. With
   * `removeAbsent`, it also removes sequences that are not in the index.
   */
  function runModel (seed: number, removeAbsent: boolean): void {
    const random = prng(seed)
    const randomInt = (max: number): number => Math.floor(random() * max)

    let model: number[] = []
    let next = 1
    let checks = 0
    let runs = 0
    let largest = 0

    for (let op = 0; op < 6000; op++) {
      const roll = random()

      if (roll < 0.75 || model.length === 0) {
        next += 1 + randomInt(3)
        index.append(entry(next))
        model.push(next)
      } else if (roll < 0.95) {
        // remove a present entry
        const s = model[randomInt(model.length)]
        expect(index.remove(entry(s))).to.be.true()
        model = model.filter(m => m !== s)
      } else if (roll < 0.952) {
        // remove a contiguous run, often a whole chunk's worth
        const start = randomInt(model.length)
        const run = model.slice(start, start + 1 + randomInt(CHUNK_SIZE * 2))
        runs++

        for (const s of run) {
          expect(index.remove(entry(s))).to.be.true()
        }

        model = model.filter(m => !run.includes(m))
      } else if (removeAbsent) {
        // remove a sequence that may never have been appended or may be gone
        const s = randomInt(next + 10)
        expect(index.remove(entry(s))).to.equal(model.includes(s), `op ${op}, remove(${s})`)
        model = model.filter(m => m !== s)
      }

      expect(index.size).to.equal(model.length)
      largest = Math.max(largest, model.length)

      if (op % 20 === 0) {
        for (let probe = 0; probe < 4; probe++) {
          const after = randomInt(next + 5) - 2
          expect(sequencesAfter(index, after)).to.deep.equal(model.filter(s => s > after), `op ${op}, after(${after})`)
          checks++
        }
      }
    }

    // the run must have exercised several chunks and whole-run removals
    expect(largest).to.be.greaterThan(3 * CHUNK_SIZE)
    expect(runs).to.be.greaterThan(3)
    expect(checks).to.be.greaterThan(1000)
    expect(sequencesAfter(index, -1)).to.deep.equal(model)
  }

  it('matches a sorted array model under random appends and removes', () => {
    runModel(0xC0FFEE, false)
  })

  it('matches a sorted array model with another seed', () => {
    runModel(42, false)
  })

  it('matches a sorted array model when removing absent sequences too', () => {
    runModel(0xC0FFEE, true)
  })
})

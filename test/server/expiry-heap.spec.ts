import { expect } from 'aegir/chai'
import { ExpiryHeap } from '../../src/server/expiry-heap.ts'
import { prng } from '../fixtures/prng.ts'
import type { Expiring } from '../../src/server/expiry-heap.ts'

interface Entry extends Expiring {
  id: number
}

let nextId = 0

function entry (expiresAt: number): Entry {
  return { expiresAt, heapIndex: -1, id: nextId++ }
}

/**
 * Empties the heap by repeatedly removing its minimum, and returns the
 * entries in the order they came out
 */
function drain (heap: ExpiryHeap<Entry>): Entry[] {
  const out: Entry[] = []

  while (true) {
    const min = heap.peek()

    if (min == null) {
      break
    }

    heap.remove(min)
    expect(min.heapIndex).to.equal(-1)
    out.push(min)
  }

  expect(heap.size).to.equal(0)

  return out
}

function ids (entries: Iterable<Entry>): number[] {
  return [...entries].map(e => e.id).sort((a, b) => a - b)
}

function expectSorted (entries: Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    expect(entries[i - 1].expiresAt).to.be.at.most(entries[i].expiresAt, `position ${i}`)
  }
}

describe('expiry heap', () => {
  let heap: ExpiryHeap<Entry>

  beforeEach(() => {
    heap = new ExpiryHeap<Entry>()
  })

  it('is empty when new', () => {
    expect(heap.size).to.equal(0)
    expect(heap.peek()).to.be.undefined()
  })

  it('peeks the entry that expires first', () => {
    const entries = [entry(50), entry(20), entry(40), entry(10), entry(30)]

    for (const e of entries) {
      heap.push(e)
    }

    expect(heap.size).to.equal(5)
    expect(heap.peek()).to.equal(entries[3])
    // peeking does not remove
    expect(heap.peek()).to.equal(entries[3])
    expect(heap.size).to.equal(5)
  })

  it('peeks a newly pushed earliest entry', () => {
    heap.push(entry(50))
    heap.push(entry(40))

    const earliest = entry(1)
    heap.push(earliest)

    expect(heap.peek()).to.equal(earliest)
  })

  it('gives every entry a distinct position while it is in the heap', () => {
    const entries = [entry(5), entry(3), entry(8), entry(1), entry(9), entry(2)]

    for (const e of entries) {
      heap.push(e)
    }

    const positions = entries.map(e => e.heapIndex)

    expect(new Set(positions).size).to.equal(entries.length)

    for (const position of positions) {
      expect(position).to.be.within(0, entries.length - 1)
    }

    // the minimum is at the root
    expect(entries[3].heapIndex).to.equal(0)
  })

  it('yields entries in expiry order when drained', () => {
    const expiries = [7, 3, 9, 3, 1, 8, 2, 2, 6, 10, 0, 5]

    for (const e of expiries) {
      heap.push(entry(e))
    }

    expect(drain(heap).map(e => e.expiresAt)).to.deep.equal([...expiries].sort((a, b) => a - b))
  })

  it('sets heapIndex to -1 after removal', () => {
    const a = entry(1)
    const b = entry(2)
    const c = entry(3)

    heap.push(a)
    heap.push(b)
    heap.push(c)

    heap.remove(b)
    expect(b.heapIndex).to.equal(-1)
    expect(heap.size).to.equal(2)

    // the root
    heap.remove(a)
    expect(a.heapIndex).to.equal(-1)
    expect(heap.peek()).to.equal(c)

    // the last one
    heap.remove(c)
    expect(c.heapIndex).to.equal(-1)
    expect(heap.size).to.equal(0)
    expect(heap.peek()).to.be.undefined()
  })

  it('removes the last slot of the heap', () => {
    const entries = [entry(1), entry(2), entry(3), entry(4)]

    for (const e of entries) {
      heap.push(e)
    }

    const last = entries.find(e => e.heapIndex === entries.length - 1)

    if (last == null) {
      throw new Error('no entry in the last slot')
    }

    heap.remove(last)

    expect(last.heapIndex).to.equal(-1)
    expect(drain(heap)).to.deep.equal(entries.filter(e => e !== last))
  })

  it('ignores removing an entry twice', () => {
    const entries = [entry(4), entry(1), entry(3), entry(2)]

    for (const e of entries) {
      heap.push(e)
    }

    heap.remove(entries[2])
    heap.remove(entries[2])

    expect(heap.size).to.equal(3)
    expect(entries[2].heapIndex).to.equal(-1)
    expect(drain(heap).map(e => e.expiresAt)).to.deep.equal([1, 2, 4])
  })

  it('ignores removing an entry that was never pushed', () => {
    heap.push(entry(1))
    heap.push(entry(2))

    heap.remove(entry(0))

    expect(heap.size).to.equal(2)
    expect(drain(heap).map(e => e.expiresAt)).to.deep.equal([1, 2])
  })

  it('ignores removing an entry whose stale position holds another entry', () => {
    const a = entry(1)
    const b = entry(2)
    heap.push(a)
    heap.push(b)

    // an entry not in the heap that claims a's slot
    const stranger = entry(0)
    stranger.heapIndex = 0

    heap.remove(stranger)

    expect(heap.size).to.equal(2)
    expect(a.heapIndex).to.equal(0)
    expect(heap.peek()).to.equal(a)
  })

  it('can push an entry again after it was removed', () => {
    const a = entry(5)
    heap.push(a)
    heap.push(entry(7))
    heap.remove(a)

    a.expiresAt = 9
    heap.push(a)

    expect(heap.size).to.equal(2)
    expect(drain(heap).map(e => e.expiresAt)).to.deep.equal([7, 9])
  })

  it('keeps heap order after removing arbitrary entries', () => {
    const random = prng(0xBEEF)

    for (let round = 0; round < 50; round++) {
      heap = new ExpiryHeap<Entry>()
      const entries: Entry[] = []
      const count = 1 + Math.floor(random() * 200)

      for (let i = 0; i < count; i++) {
        // a narrow range so many expiries tie
        const e = entry(Math.floor(random() * 50))
        entries.push(e)
        heap.push(e)
      }

      const removed = new Set<Entry>()

      for (const e of entries) {
        if (random() < 0.5) {
          heap.remove(e)
          expect(e.heapIndex).to.equal(-1)
          removed.add(e)
        }
      }

      const remaining = entries.filter(e => !removed.has(e))
      expect(heap.size).to.equal(remaining.length)

      const drained = drain(heap)

      expectSorted(drained)
      expect(ids(drained)).to.deep.equal(ids(remaining))
    }
  })

  it('matches a model under interleaved pushes, arbitrary removes and pops', () => {
    const random = prng(12345)
    const model = new Set<Entry>()

    for (let op = 0; op < 5000; op++) {
      const roll = random()

      if (roll < 0.5 || model.size === 0) {
        const e = entry(Math.floor(random() * 1000))
        heap.push(e)
        model.add(e)
      } else if (roll < 0.8) {
        // remove an arbitrary entry
        const members = [...model]
        const e = members[Math.floor(random() * members.length)]
        heap.remove(e)
        expect(e.heapIndex).to.equal(-1)
        model.delete(e)
      } else {
        // pop the minimum
        const min = heap.peek()
        const expected = Math.min(...[...model].map(e => e.expiresAt))

        expect(min?.expiresAt).to.equal(expected)

        if (min != null) {
          heap.remove(min)
          model.delete(min)
        }
      }

      expect(heap.size).to.equal(model.size)

      for (const e of model) {
        expect(e.heapIndex).to.be.within(0, model.size - 1)
      }
    }

    const drained = drain(heap)

    expectSorted(drained)
    expect(ids(drained)).to.deep.equal(ids(model))
  })
})

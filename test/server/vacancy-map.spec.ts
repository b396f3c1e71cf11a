import { expect } from 'aegir/chai'
import { VacancyMap } from '../../src/server/vacancy-map.ts'

/**
 * How many keys the map holds, vacant ones included
 */
function keysHeld (map: VacancyMap<string, number>): number {
  return (map as unknown as { entries: Map<string, unknown> }).entries.size
}

describe('vacancy map', () => {
  it('deletes a key at once with delete(), vacant or not', () => {
    const map = new VacancyMap<string, number>()
    map.set('a', 1)
    map.set('b', 2)
    map.vacate('b')

    expect(map.delete('a')).to.be.true()
    expect(map.delete('b')).to.be.false()
    expect(map.delete('missing')).to.be.false()
    expect(keysHeld(map)).to.equal(0)
    expect(map.size).to.equal(0)

    // a vacancy of a key deleted since is stale
    map.set('b', 3)
    expect(map.purge(10)).to.equal(0)
    expect(map.get('b')).to.equal(3)
  })

  it('gets, sets, vacates and lists as a map', () => {
    const map = new VacancyMap<string, number>()

    expect(map.set('a', 1)).to.equal(map)
    map.set('b', 2)
    map.set('a', 3)

    expect(map.get('a')).to.equal(3)
    expect(map.has('b')).to.be.true()
    expect(map.size).to.equal(2)

    expect(map.vacate('a')).to.be.true()
    expect(map.vacate('a')).to.be.false()
    expect(map.vacate('missing')).to.be.false()
    expect(map.get('a')).to.be.undefined()
    expect(map.has('a')).to.be.false()
    expect(map.size).to.equal(1)
    expect([...map.values()]).to.deep.equal([2])

    map.set('a', 4)
    expect(map.get('a')).to.equal(4)
    expect(map.size).to.equal(2)
    expect([...map.values()].sort()).to.deep.equal([2, 4])
  })

  it('keeps a vacated key, vacant, until a purge goes through its vacancy', () => {
    const map = new VacancyMap<string, number>()
    map.set('a', 1)
    map.set('b', 2)
    map.vacate('a')

    expect(keysHeld(map)).to.equal(2)
    expect(map.purge(10)).to.equal(0)
    expect(keysHeld(map)).to.equal(1)
    expect(map.size).to.equal(1)
  })

  it('does not delete a key set again, or vacated again since, at an older vacancy', () => {
    const map = new VacancyMap<string, number>()
    map.set('a', 1)
    map.vacate('a')
    map.set('a', 2)

    // a key set again is kept
    expect(map.purge(1)).to.equal(0)
    expect(map.get('a')).to.equal(2)

    map.vacate('a')
    map.set('a', 3)
    map.vacate('a')

    // the first vacancy is stale: the key stays until its last one
    expect(map.purge(1)).to.equal(1)
    expect(keysHeld(map)).to.equal(1)
    expect(map.purge(1)).to.equal(0)
    expect(keysHeld(map)).to.equal(0)
    expect(map.size).to.equal(0)
  })

  it('goes through vacancies in batches, oldest first', () => {
    const map = new VacancyMap<string, number>()

    for (let i = 0; i < 10; i++) {
      map.set(`k${i}`, i)
    }

    for (let i = 0; i < 10; i++) {
      map.vacate(`k${i}`)
    }

    expect(map.purge(4)).to.equal(6)
    expect(keysHeld(map)).to.equal(6)
    expect(map.purge(4)).to.equal(2)
    expect(map.purge(4)).to.equal(0)
    expect(keysHeld(map)).to.equal(0)
  })

  it('holds no more vacant keys than live ones, or minVacancies, without a purge', () => {
    const map = new VacancyMap<string, number>(4)

    for (let i = 0; i < 100; i++) {
      map.set(`k${i}`, i)
    }

    for (let i = 0; i < 100; i++) {
      map.vacate(`k${i}`)
      expect(keysHeld(map) - map.size).to.be.at.most(Math.max(map.size, 4) + 1)
    }

    expect(map.size).to.equal(0)
    expect(keysHeld(map)).to.be.at.most(5)
  })

  it('keeps one key vacated and set again and again, many times over the bound, as one entry', () => {
    const map = new VacancyMap<string, number>(4)
    map.set('other', 0)

    for (let i = 0; i < 1000; i++) {
      map.set('hot', i)
      map.vacate('hot')
    }

    // the key stayed all along: each purge on the way met a stale vacancy
    expect(keysHeld(map)).to.equal(2)
    expect(map.get('other')).to.equal(0)
  })
})

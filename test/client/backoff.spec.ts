import { expect } from 'aegir/chai'
import { backoff } from '../../src/client/backoff.ts'

describe('backoff', () => {
  const lowest = (): number => 0
  const highest = (): number => 1 - Number.EPSILON

  it('doubles from 1 s, each wait in the upper half of its step', () => {
    expect([1, 2, 3, 4].map(failures => backoff(failures, 60_000, lowest))).to.deep.equal([500, 1000, 2000, 4000])
    expect([1, 2, 3, 4].map(failures => Math.round(backoff(failures, 60_000, highest)))).to.deep.equal([1000, 2000, 4000, 8000])
  })

  it('never waits longer than the cap, nor less than half of it once there', () => {
    for (const failures of [7, 8, 50, 10_000]) {
      expect(backoff(failures, 60_000, highest)).to.be.at.most(60_000)
      expect(backoff(failures, 60_000, lowest)).to.equal(30_000)
    }
  })

  it('keeps a cap below 1 s', () => {
    expect(backoff(1, 200, lowest)).to.equal(100)
    expect(backoff(3, 200, highest)).to.be.at.most(200)
  })

  it('spreads clients that failed together', () => {
    const waits = new Set(Array.from({ length: 20 }, () => backoff(3, 60_000)))
    expect(waits.size).to.be.greaterThan(1)

    for (const wait of waits) {
      expect(wait).to.be.within(2000, 4000)
    }
  })
})

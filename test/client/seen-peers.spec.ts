import { expect } from 'aegir/chai'
import { SeenPeers } from '../../src/client/seen-peers.ts'

describe('seen peers', () => {
  const now = 1_000_000

  it('knows a peer until its registration lapses', () => {
    const seen = new SeenPeers(10)
    expect(seen.check('a', 1n, now + 5000, now)).to.equal('new')
    seen.add('a', 1n, now + 5000, now)

    expect(seen.check('a', 1n, now + 5000, now + 4999)).to.equal('known')
    expect(seen.check('a', 1n, now + 10_000, now + 5000)).to.equal('new')
  })

  it('takes a newer record as new, an older or the same one as known', () => {
    const seen = new SeenPeers(10)
    seen.add('a', 5n, now + 5000, now)

    expect(seen.check('a', 4n, now + 5000, now)).to.equal('known')
    expect(seen.check('a', 5n, now + 5000, now)).to.equal('known')
    expect(seen.check('a', 6n, now + 5000, now)).to.equal('new')
  })

  it('extends a known peer\'s expiry, and says so when it moves by half the remaining TTL, as a renewal does', () => {
    const seen = new SeenPeers(10)
    seen.add('a', 1n, now + 10_000, now)

    // another point listing the same registration, a second apart
    expect(seen.check('a', 1n, now + 10_900, now)).to.equal('known')
    // registered again soon after
    expect(seen.check('a', 1n, now + 12_000, now + 2000)).to.equal('known')
    // renewed at 80 % of its TTL
    expect(seen.check('a', 1n, now + 18_000, now + 8000)).to.equal('extended')
    // the extended expiry holds: known past the first one
    expect(seen.check('a', 1n, now + 18_000, now + 15_000)).to.equal('known')
  })

  it('forgets lapsed peers first, then the one heard of longest ago, past maxPeers', () => {
    const seen = new SeenPeers(3)
    seen.add('lapses', 1n, now + 100, now)
    seen.add('old', 1n, now + 10_000, now)
    seen.add('newer', 1n, now + 10_000, now)

    seen.add('fourth', 1n, now + 10_000, now + 200)
    expect(seen.size).to.equal(3)
    expect(seen.check('old', 1n, now + 10_000, now + 200)).to.equal('known')

    seen.add('fifth', 1n, now + 10_000, now + 200)
    expect(seen.size).to.equal(3)
    expect(seen.check('old', 1n, now + 10_000, now + 200)).to.equal('new')
    expect(seen.check('newer', 1n, now + 10_000, now + 200)).to.equal('known')
  })

  it('counts a peer heard of again as the most recent', () => {
    const seen = new SeenPeers(2)
    seen.add('a', 1n, now + 10_000, now)
    seen.add('b', 1n, now + 10_000, now)
    seen.add('a', 2n, now + 10_000, now)
    seen.add('c', 1n, now + 10_000, now)

    expect(seen.check('a', 2n, now + 10_000, now)).to.equal('known')
    expect(seen.check('b', 1n, now + 10_000, now)).to.equal('new')
  })
})

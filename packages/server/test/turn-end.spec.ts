import { expect } from 'aegir/chai'
import { atTurnEnd } from '../src/turn-end.ts'

describe('turn end', () => {
  it('runs callbacks once the turn has done its work, in order, those added meanwhile too', async () => {
    const ran: string[] = []

    atTurnEnd(() => {
      ran.push('first')
      atTurnEnd(() => ran.push('added while running'))
    })
    atTurnEnd(() => ran.push('second'))

    // promise chains of this turn run before
    await Promise.resolve()
    ran.push('after an await')
    expect(ran).to.deep.equal(['after an await'])

    await new Promise(resolve => setImmediate(resolve))
    expect(ran).to.deep.equal(['after an await', 'first', 'second', 'added while running'])

    // and in the next turn, again
    atTurnEnd(() => ran.push('next turn'))
    await new Promise(resolve => setImmediate(resolve))
    expect(ran.slice(4)).to.deep.equal(['next turn'])
  })
})

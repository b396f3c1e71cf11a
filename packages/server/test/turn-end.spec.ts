import { expect } from 'aegir/chai'
import { atTurnEnd, oncePerTurn } from '../src/turn-end.ts'

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
  it('drops a callback that throws, lets its error go on, and runs the others, then and later', async () => {
    const ran: string[] = []
    const listeners = process.listeners('uncaughtException')
    process.removeAllListeners('uncaughtException')

    try {
      const thrown = new Promise<Error>(resolve => process.once('uncaughtException', resolve))
      atTurnEnd(() => ran.push('before'))
      atTurnEnd(() => { throw new Error('from a callback') })
      atTurnEnd(() => ran.push('after'))

      expect(await thrown).to.have.property('message', 'from a callback')
    } finally {
      for (const listener of listeners) {
        process.on('uncaughtException', listener)
      }
    }

    await new Promise(resolve => setImmediate(resolve))
    expect(ran).to.deep.equal(['before', 'after'])

    atTurnEnd(() => ran.push('next turn'))
    await new Promise(resolve => setImmediate(resolve))
    expect(ran).to.deep.equal(['before', 'after', 'next turn'])
  })
  it('runs a callback made once per turn at the end of each turn it is asked for, once', async () => {
    let ran = 0
    const runAtTurnEnd = oncePerTurn(() => { ran++ })

    expect(runAtTurnEnd()).to.be.true()
    expect(runAtTurnEnd()).to.be.false()
    await Promise.resolve()
    expect(runAtTurnEnd()).to.be.false()
    expect(ran).to.equal(0)

    await new Promise(resolve => setImmediate(resolve))
    expect(ran).to.equal(1)

    // a turn that does not ask runs nothing; the next that does, again once
    await new Promise(resolve => setImmediate(resolve))
    expect(ran).to.equal(1)
    expect(runAtTurnEnd()).to.be.true()
    expect(runAtTurnEnd()).to.be.false()
    await new Promise(resolve => setImmediate(resolve))
    expect(ran).to.equal(2)
  })
})

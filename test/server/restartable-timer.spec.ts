import { expect } from 'aegir/chai'
import sinon from 'sinon'
import { RestartableTimer } from '../../src/server/restartable-timer.ts'
import type { SinonFakeTimers } from 'sinon'

describe('RestartableTimer', () => {
  let clock: SinonFakeTimers

  beforeEach(() => {
    clock = sinon.useFakeTimers()
  })

  afterEach(() => {
    clock.restore()
  })

  it('goes off `delay` after it starts, once', () => {
    const callback = sinon.spy()
    const timer = new RestartableTimer(callback, 100)

    clock.tick(99)
    expect(callback.called).to.be.false()
    clock.tick(1)
    expect(callback.calledOnce).to.be.true()
    clock.tick(1000)
    expect(callback.calledOnce).to.be.true()
    timer.clear()
  })

  it('goes off `delay` after its last restart, and after each restart once it went off', () => {
    const callback = sinon.spy()
    const timer = new RestartableTimer(callback, 100)

    for (let i = 0; i < 5; i++) {
      clock.tick(60)
      timer.restart()
    }

    clock.tick(99)
    expect(callback.called).to.be.false()
    clock.tick(1)
    expect(callback.calledOnce).to.be.true()

    timer.restart()
    clock.tick(100)
    expect(callback.calledTwice).to.be.true()
    timer.clear()
  })

  it('never goes off once cleared, and leaves no timer behind', () => {
    const callback = sinon.spy()
    const timer = new RestartableTimer(callback, 100)

    clock.tick(50)
    timer.clear()
    clock.tick(1000)
    expect(callback.called).to.be.false()
    expect(clock.countTimers()).to.equal(0)
  })
})

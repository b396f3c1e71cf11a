/**
 * Callbacks run when the current turn of the event loop has done its work:
 * after the I/O callbacks of the poll phase and every promise chain they
 * started, all in one `setImmediate`. A callback added while they run runs
 * in the same pass, after those before it, so that a noise connection's
 * flush at the end of a turn writes to a socket that is still corked, and
 * the socket's uncork, added by that write, comes after it.
 */
const callbacks: Array<() => void> = []

/**
 * Runs `callback` at the end of the current turn of the event loop
 */
export function atTurnEnd (callback: () => void): void {
  if (callbacks.push(callback) === 1) {
    setImmediate(runCallbacks)
  }
}

/**
 * A function that has `callback` run at the end of the current turn, once
 * however often it is called during the turn. It returns `true` when the
 * call scheduled `callback`, the first of its turn.
 */
export function oncePerTurn (callback: () => void): () => boolean {
  let scheduled = false
  const run = (): void => {
    scheduled = false
    callback()
  }

  return () => {
    if (scheduled) {
      return false
    }

    scheduled = true
    atTurnEnd(run)
    return true
  }
}

function runCallbacks (): void {
  let i = 0

  try {
    // the length is read on every step: callbacks added meanwhile run too
    for (; i < callbacks.length; i++) {
      callbacks[i]()
    }
  } finally {
    // a callback that throws is dropped and its error goes on as any
    // `setImmediate` callback's would; those after it run in another pass,
    // so that no later turn waits on it
    callbacks.splice(0, i + 1)

    if (callbacks.length > 0) {
      setImmediate(runCallbacks)
    }
  }
}

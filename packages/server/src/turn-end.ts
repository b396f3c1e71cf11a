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

function runCallbacks (): void {
  // the length is read on every step: callbacks added meanwhile run too
  for (let i = 0; i < callbacks.length; i++) {
    callbacks[i]()
  }

  callbacks.length = 0
}

import { enabled, logger } from '@libp2p/logger'
import type { ComponentLogger, Logger } from '@libp2p/interface'

/**
 * The command's loggers: `@libp2p/logger`'s where `DEBUG` enables them, else
 * loggers that do nothing and cost nothing to make. js-libp2p makes several
 * per connection and per stream, and each `@libp2p/logger` logger makes
 * three `debug` instances, which look at the terminal every time whether or
 * not they will ever print. `DEBUG` is read once, when the command starts.
 */
export function commandLogger (): ComponentLogger {
  return {
    forComponent: componentLogger
  }
}

function componentLogger (name: string): Logger {
  if (enabled(name) || enabled(`${name}:error`) || enabled(`${name}:trace`)) {
    return logger(name)
  }

  return silentLogger(name)
}

const nothing = (): void => {}

/**
 * A logger that prints nothing, whose scopes are looked up again: `DEBUG`
 * may enable a scope below a name it leaves out
 */
function silentLogger (name: string): Logger {
  return Object.assign((): void => {}, {
    enabled: false,
    error: nothing,
    trace: nothing,
    newScope: (scope: string) => componentLogger(`${name}:${scope}`)
  })
}

import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import type { ChildProcess, SpawnOptions } from 'node:child_process'

/**
 * A process a test started
 */
export interface Child {
  process: ChildProcess

  /**
   * Lines it wrote to stdout and stderr so far, when they are piped
   */
  stdout: string[]
  stderr: string[]

  /**
   * Resolves with its exit code (`null` when a signal ended it, or it could
   * not start) once its output is read to the end
   */
  exited: Promise<number | null>

  /**
   * Resolves with the first line on stdout that `matches` accepts, or
   * rejects with what it wrote to stderr if it exits before writing one
   */
  line(matches?: (line: string) => boolean): Promise<string>

  /**
   * Kills it (SIGKILL) if it still runs, and waits for it to exit
   */
  stop(): Promise<void>
}

/**
 * Every child still running, whoever started it: killed with the test
 * process, so a test that fails or times out leaves none behind
 */
const everyChild = new Set<Child>()

process.once('exit', () => {
  for (const child of everyChild) {
    child.process.kill('SIGKILL')
  }
})

/**
 * The processes one suite starts (the command, redis-server, a script):
 * `stopAll()` in its `afterEach` or `after` stops every one still running,
 * however the test ended
 */
export class Children {
  private readonly running = new Set<Child>()

  spawn (command: string, args: string[], options: SpawnOptions = {}): Child {
    const spawned = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options })
    const stdout: string[] = []
    const stderr: string[] = []
    const exited = new Promise<number | null>(resolve => {
      // a command that cannot start at all never exits
      spawned.once('error', () => { resolve(null) })
      // after its output was read to the end
      spawned.once('close', code => { resolve(code) })
    })

    let waiters: Array<(line: string) => boolean> = []

    if (spawned.stdout != null) {
      createInterface({ input: spawned.stdout }).on('line', line => {
        stdout.push(line)
        waiters = waiters.filter(waiter => !waiter(line))
      })
    }

    if (spawned.stderr != null) {
      createInterface({ input: spawned.stderr }).on('line', line => stderr.push(line))
    }

    const child: Child = {
      process: spawned,
      stdout,
      stderr,
      exited,
      line: async (matches = () => true) => {
        const found = stdout.find(matches)

        if (found != null) {
          return found
        }

        return new Promise<string>((resolve, reject) => {
          waiters.push(line => {
            if (matches(line)) {
              resolve(line)
              return true
            }

            return false
          })
          exited.then(code => { reject(new Error(`${command} exited with ${code}: ${stderr.join('\n')}`)) }, reject)
        })
      },
      stop: async () => {
        if (spawned.exitCode == null && spawned.signalCode == null && spawned.pid != null) {
          spawned.kill('SIGKILL')
        }

        await exited
      }
    }

    this.running.add(child)
    everyChild.add(child)
    void exited.then(() => {
      this.running.delete(child)
      everyChild.delete(child)
    })

    return child
  }

  async stopAll (): Promise<void> {
    await Promise.all([...this.running].map(async child => child.stop()))
  }
}

import { pbStream } from '@libp2p/utils'
import { IdentifyAgent } from '../pb/identify.ts'
import { peerRecordFormat } from '../signed-peer-record.ts'
import type { PeerRecordFormat } from '../signed-peer-record.ts'
import type { Connection, Logger } from '@libp2p/interface'

/** identify's protocol, which a point asks a client's agent version by */
const IDENTIFY_PROTOCOL = '/ipfs/id/1.0.0'

/** as js-libp2p's and go-libp2p's identify: no message of theirs is larger */
const MAX_IDENTIFY_MESSAGE_SIZE = 8 * 1024

/** identify may split its answer into several messages; go-libp2p reads 10 at most */
const MAX_IDENTIFY_MESSAGES = 10

export interface LegacyRecordClientsInit {
  /**
   * Agent version prefixes of clients that read legacy peer records only
   */
  agents: string[]

  /**
   * How long asking a client's identify may take, in ms
   */
  timeout: number

  log: Logger
}

/**
 * Which clients a point serves rust-libp2p's legacy peer records only, one
 * verdict per connection, kept as long as the connection.
 *
 * A client that registers a standard record on a connection reads standard
 * records: it gets every record. One that identify's `peer:identify` says
 * runs an agent of `agents` gets the legacy ones only. When neither has told
 * by the time a client asks for records, the point asks the client's
 * identify for its agent version itself, once per connection: a point then
 * needs no identify of every client that connects (a sixth of what a new
 * client costs a JS point), only of those that ask for records before they
 * register.
 */
export class LegacyRecordClients {
  private readonly agents: string[]
  private readonly timeout: number
  private readonly log: Logger
  private readonly verdicts = new WeakMap<Connection, boolean | Promise<boolean>>()

  constructor (init: LegacyRecordClientsInit) {
    this.agents = init.agents
    this.timeout = init.timeout
    this.log = init.log
  }

  /**
   * Whether any agent is served legacy records only, so that identify's
   * answers are worth hearing
   */
  get listening (): boolean {
    return this.agents.length > 0
  }

  /**
   * identify learned the agent version of the client on `connection`
   */
  identified (connection: Connection, agentVersion?: string): void {
    const legacy = this.isLegacyAgent(agentVersion)

    if (legacy) {
      this.log('%p identified as %s, it is served legacy peer records only', connection.remotePeer, agentVersion)
    }

    this.verdicts.set(connection, legacy)
  }

  /**
   * The client on `connection` registered `signedPeerRecord`, verified, in
   * `format` when it was opened now: a client that signs standard records
   * reads them
   */
  registered (connection: Connection, signedPeerRecord: Uint8Array, format?: PeerRecordFormat): void {
    if (!this.listening || this.verdicts.has(connection)) {
      return
    }

    if ((format ?? peerRecordFormat(signedPeerRecord)) === 'standard') {
      this.verdicts.set(connection, false)
    }
  }

  /**
   * Whether the client on `connection` is served legacy records only; asks
   * its identify when nothing has told yet. A client that does not answer
   * is served every record.
   */
  async legacyOnly (connection: Connection): Promise<boolean> {
    if (!this.listening) {
      return false
    }

    const known = this.verdicts.get(connection)

    if (known != null) {
      return known
    }

    const asking = this.ask(connection)
    this.verdicts.set(connection, asking)
    const legacy = await asking

    // unless identify or a REGISTER told meanwhile
    if (this.verdicts.get(connection) === asking) {
      this.verdicts.set(connection, legacy)
    }

    return legacy
  }

  private isLegacyAgent (agentVersion?: string): boolean {
    return agentVersion != null && this.agents.some(prefix => agentVersion.startsWith(prefix))
  }

  private async ask (connection: Connection): Promise<boolean> {
    try {
      const agentVersion = await readAgentVersion(connection, AbortSignal.timeout(this.timeout))
      const legacy = this.isLegacyAgent(agentVersion)

      if (legacy) {
        this.log('%p runs %s, it is served legacy peer records only', connection.remotePeer, agentVersion)
      }

      return legacy
    } catch (err: any) {
      this.log('could not ask the agent version of %p, it is served every record - %e', connection.remotePeer, err)
      return false
    }
  }
}

/**
 * Asks the identify of the peer on `connection` for its agent version:
 * `undefined` when its answer has none
 */
async function readAgentVersion (connection: Connection, signal: AbortSignal): Promise<string | undefined> {
  const stream = await connection.newStream(IDENTIFY_PROTOCOL, { signal })
  let agentVersion: string | undefined

  try {
    const messages = pbStream(stream, { maxDataLength: MAX_IDENTIFY_MESSAGE_SIZE }).pb(IdentifyAgent)

    for (let i = 0; i < MAX_IDENTIFY_MESSAGES && agentVersion == null; i++) {
      const message = await messages.read({ signal })
      agentVersion = message.agentVersion === '' ? undefined : message.agentVersion
    }
  } catch (err: any) {
    stream.abort(err)
    throw err
  }

  await stream.close({ signal }).catch(err => { stream.abort(err) })
  return agentVersion
}

/**
 * @packageDocumentation
 *
 * What the tests of this repository's packages share. Private: never
 * published.
 *
 * - `libp2p-rendezvous-testing`: signed peer records (browsers and Node.js)
 * - `libp2p-rendezvous-testing/node`: TCP libp2p nodes on 127.0.0.1 and a
 * redis-server of a test's own (Node.js only)
 */

export { newPrivateKey, signedPeerRecord } from './records.ts'

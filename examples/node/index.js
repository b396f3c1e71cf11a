/* eslint-disable no-console */
/**
 * A rendezvous point and three peers that find each other through it, all in
 * one process, over TCP on 127.0.0.1. Run it with `npm run example:node`
 * (after `npm install`, which builds the package).
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'
import { rendezvous, rendezvousServer } from 'libp2p-rendezvous'

const NAMESPACE = 'example-chat'
const PEERS = 3

function base () {
  return {
    addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()]
  }
}

const point = await createLibp2p({
  ...base(),
  services: { rendezvousServer: rendezvousServer() }
})
const pointAddress = point.getMultiaddrs()[0]
console.info(`rendezvous point listening on ${pointAddress}`)

const peers = []
const found = new Map()

for (let i = 0; i < PEERS; i++) {
  const peer = await createLibp2p({
    ...base(),
    peerDiscovery: [
      rendezvous({
        rendezvousPoints: [pointAddress],
        namespaces: [NAMESPACE],
        discoverInterval: 500
      })
    ]
  })
  const name = `peer ${i + 1}`
  found.set(peer.peerId.toString(), new Set())
  peers.push({ name, peer })
  console.info(`${name} is ${peer.peerId}`)
}

const names = new Map(peers.map(({ name, peer }) => [peer.peerId.toString(), name]))

const everyoneFound = new Promise(resolve => {
  for (const { name, peer } of peers) {
    peer.addEventListener('peer:discovery', (event) => {
      const other = names.get(event.detail.id.toString())

      if (other == null) {
        // the rendezvous point itself enters the peer store when dialled
        return
      }

      found.get(peer.peerId.toString()).add(other)
      console.info(`${name} discovered ${other} at ${event.detail.multiaddrs.join(', ')}`)

      if ([...found.values()].every(set => set.size === PEERS - 1)) {
        resolve()
      }
    })
  }
})

const timeout = setTimeout(() => {
  console.error('not every peer found every other peer within 30 s')
  process.exit(1)
}, 30_000)

await everyoneFound
clearTimeout(timeout)
console.info(`every peer discovered the ${PEERS - 1} others in "${NAMESPACE}"`)

await Promise.all(peers.map(async ({ peer }) => peer.stop()))
await point.stop()
console.info('stopped: the peers unregistered on their way out')

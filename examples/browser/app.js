/**
 * The page's script: a browser libp2p node that registers in the example's
 * namespace at the rendezvous point and lists, live, the peers it discovers
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { webSockets } from '@libp2p/websockets'
import { createLibp2p } from 'libp2p'
import { rendezvous } from 'libp2p-rendezvous'

const config = await (await fetch('./config.json')).json()
const $ = (id) => document.getElementById(id)

const node = await createLibp2p({
  // a browser cannot listen: other peers reach it through the point's relay
  addresses: { listen: ['/p2p-circuit'] },
  transports: [webSockets(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // the example's point runs on 127.0.0.1, which browsers may not dial by default
  connectionGater: { denyDialMultiaddr: async () => false },
  services: {
    identify: identify(),
    rendezvous: rendezvous({
      rendezvousPoints: [config.point],
      namespaces: [config.namespace],
      discoverInterval: 1000
    })
  }
})

$('namespace').textContent = config.namespace
$('self').textContent = node.peerId.toString()

node.addEventListener('self:peer:update', () => {
  const relayed = node.getMultiaddrs().filter(ma => ma.toString().includes('/p2p-circuit'))
  $('status').textContent = relayed.length > 0
    ? `reachable through ${relayed.length} relay address(es)`
    : 'waiting for a relay address…'
})

node.services.rendezvous.addEventListener('peer', (event) => {
  const id = event.detail.id.toString()
  let item = document.querySelector(`li[data-peer="${id}"]`)

  if (item == null) {
    item = document.createElement('li')
    item.dataset.peer = id
    $('peers').append(item)
  }

  item.innerHTML = `<code>${id}</code><br><small>${event.detail.multiaddrs.map(ma => ma.toString()).join('<br>')}</small>`
})

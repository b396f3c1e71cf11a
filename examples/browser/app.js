/**
 * The page's script: a browser libp2p node that registers in the example's
 * namespace at the rendezvous point, lists, live, the peers it discovers,
 * connects to each (over WebRTC where the browser can, through the point's
 * relay otherwise) and shows the round-trip time of a ping to it
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { circuitRelayTransport } from '@libp2p/circuit-relay-v2'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { webRTC } from '@libp2p/webrtc'
import { webSockets } from '@libp2p/websockets'
import { WebRTC } from '@multiformats/multiaddr-matcher'
import { createLibp2p } from 'libp2p'
import { rendezvous } from 'libp2p-rendezvous'

/**
 * How often each peer is pinged (ms)
 */
const PING_INTERVAL = 2000

const config = await (await fetch('./config.json')).json()
const $ = (id) => document.getElementById(id)

const node = await createLibp2p({
  // a browser cannot listen: other peers reach it through the point's relay,
  // and through the relay it can set up WebRTC connections
  addresses: { listen: ['/p2p-circuit', '/webrtc'] },
  transports: [webSockets(), webRTC(), circuitRelayTransport()],
  connectionEncrypters: [noise()],
  streamMuxers: [yamux()],
  // the example's point runs on 127.0.0.1, which browsers may not dial by default
  connectionGater: { denyDialMultiaddr: async () => false },
  services: {
    identify: identify(),
    // relayed connections are limited ones: ping must be allowed on them
    ping: ping({ runOnLimitedConnection: true }),
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

/**
 * Peers being connected to or pinged, each with what was found of it since
 * (`null` for nothing): a peer found again is not dialled twice at once, but
 * the addresses it registered meanwhile (its relay address, often, which it
 * gets after its first REGISTER) are tried once the attempt in flight ends
 */
const attempts = new Map()

node.services.rendezvous.addEventListener('peer', (event) => {
  const id = event.detail.id.toString()
  const item = peerItem(id)
  item.querySelector('.addresses').innerHTML = event.detail.multiaddrs.map(ma => ma.toString()).join('<br>')

  if (attempts.has(id)) {
    attempts.set(id, event.detail)
  } else {
    attempt(event.detail, item)
  }
})

/**
 * Connects to a peer and pings it; when that ends, again with what was found
 * of the peer meanwhile, if anything
 *
 * @param {import('@libp2p/interface').PeerInfo} peer - as the rendezvous component emitted it
 * @param {HTMLElement} item - its list item
 */
function attempt (peer, item) {
  const id = peer.id.toString()
  attempts.set(id, null)

  connectAndPing(peer, item).finally(() => {
    const found = attempts.get(id)
    attempts.delete(id)

    if (found != null) {
      attempt(found, item)
    }
  })
}

/**
 * The list item of a peer, made on first sight
 *
 * @param {string} id - the peer's id
 */
function peerItem (id) {
  let item = document.querySelector(`li[data-peer="${id}"]`)

  if (item == null) {
    item = document.createElement('li')
    item.dataset.peer = id
    item.innerHTML = `<code>${id}</code> <span class="connection">not connected</span> <span class="rtt"></span><br><small class="addresses"></small>`
    $('peers').append(item)
  }

  return item
}

/**
 * Connects to a discovered peer, preferring a direct WebRTC connection and
 * falling back to the relay, then pings it until the connection ends
 *
 * @param {import('@libp2p/interface').PeerInfo} peer - as the rendezvous component emitted it
 * @param {HTMLElement} item - its list item
 */
async function connectAndPing (peer, item) {
  const show = (selector, text) => { item.querySelector(selector).textContent = text }

  let connection
  // records carry addresses without the peer's own /p2p/<id>; without it, a
  // circuit address would name the relay, and dialling it would reach the
  // relay rather than the peer
  const webrtc = peer.multiaddrs.find(ma => WebRTC.matches(ma))?.encapsulate(`/p2p/${peer.id}`)

  try {
    connection = webrtc == null ? undefined : await node.dial(webrtc, { signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    // eslint-disable-next-line no-console
    console.warn('no WebRTC connection to', peer.id.toString(), err)
  }

  try {
    connection ??= await node.dial(peer.id, { signal: AbortSignal.timeout(10_000) })
  } catch (err) {
    show('.connection', `could not connect: ${err.message}`)
    return
  }

  const over = WebRTC.matches(connection.remoteAddr) ? 'WebRTC' : 'relay'
  item.dataset.transport = over
  show('.connection', `connected over ${over}`)

  while (connection.status === 'open') {
    try {
      const rtt = await node.services.ping.ping(peer.id, { signal: AbortSignal.timeout(5000) })
      show('.rtt', `ping ${rtt} ms`)
      item.dataset.rtt = String(rtt)
    } catch (err) {
      show('.rtt', `ping failed: ${err.message}`)
    }

    await new Promise(resolve => setTimeout(resolve, PING_INTERVAL))
  }

  show('.connection', 'disconnected')
}

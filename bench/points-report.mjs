/**
 * The tables of bench/points.mjs's results: unit costs side by side, the
 * targets of issue #19, and the capacity model built from the unit costs.
 */

import { round, table } from './lib.mjs'

/** the poll and refresh of a typical peer: a DISCOVER a minute, a REGISTER every 96 minutes */
export const PROFILE = { discoversPerMinute: 1, registersPerMinute: 1 / 96 }

/** js-libp2p's connection monitor: a ping stream every 10 s on every connection */
const MONITOR_PINGS_PER_MINUTE = 6

const WORKLOAD_ROWS = [
  ['register-same/one', 'REGISTER, unchanged record, new stream per request'],
  ['register-same/many', 'REGISTER, unchanged record, many per stream'],
  ['register-fresh/one', 'REGISTER, fresh record, new stream per request'],
  ['register-fresh/many', 'REGISTER, fresh record, many per stream'],
  ['discover/one', 'DISCOVER (limit 100 of 1000), new stream per request'],
  ['discover/many', 'DISCOVER (limit 100 of 1000), many per stream'],
  ['ping/one', 'js-libp2p connection-monitor ping']
]

/**
 * What the echo floor's workload for a point's workload is: requests and
 * responses of the same sizes, in the same stream mode
 */
function echoOf (key) {
  return key.replace('register-fresh', 'register-same')
}

function cell (value, digits = 1) {
  return value == null ? '-' : String(round(value, digits))
}

function ratio (a, b) {
  return a == null || b == null || b === 0 ? '-' : `${round(a / b, 2)}`
}

/**
 * Unit costs, every point in a column
 */
export function unitCostTable (points) {
  const m = points.medians
  const kinds = ['ours', 'go', 'rust', 'echo'].filter(kind => m[kind] != null)
  const header = ['', ...kinds.map(kind => points.points[kind]), ...(m.go != null ? ['ours ÷ Go'] : []), ...(m.rust != null ? ['ours ÷ Rust'] : [])]
  const row = (label, pick, digits = 1) => [
    label,
    ...kinds.map(kind => cell(pick(m[kind]), digits)),
    ...(m.go != null ? [ratio(pick(m.ours), pick(m.go))] : []),
    ...(m.rust != null ? [ratio(pick(m.ours), pick(m.rust))] : [])
  ]

  const rows = [
    row('new client (connection, identify, one REGISTER): point CPU ms', p => p.newClientCpuMs, 2),
    row('held idle connection: RSS KB (growth ÷ connections)', p => p.rssKBPerConnection),
    row('held connection at the end of the burst, before the quiet: RSS KB', p => p.rssKBPerConnectionBusy),
    row('going quiet after the burst (memory handed back): point CPU ms', p => p.cpuMsGoingQuiet),
    row('held idle connection: JS heap KB', p => p.heapKBPerConnection),
    row('held idle connection: CPU µs a minute', p => p.idleCpuUsPerConnectionPerMinute),
    row('a stream kept open and idle on it: RSS KB', p => p.idleStreamRssKB, 2),
    row('a stream kept open and idle on it: JS heap KB', p => p.idleStreamHeapKB, 2),
    row('after the clients left: RSS KB kept per registered peer', p => p.goneRssKBPerPeer),
    row('after the clients left: JS heap KB kept per registered peer', p => p.goneHeapKBPerPeer, 2),
    ...WORKLOAD_ROWS.map(([key, label]) => row(`${label}: point CPU µs`, p => p.workloads[key]?.pointCpuUsPerRequest ?? (p === m.echo ? p.workloads[echoOf(key)]?.pointCpuUsPerRequest : undefined)))
  ]

  return table(header, rows)
}

/**
 * Requests a second, every point in a column, and ours against the floor
 */
export function throughputTable (points) {
  return workloadTable(points, 'requests/s', 'opsPerSecond', 0)
}

/**
 * The load processes' CPU per request against each point: they share the
 * machine's cores with the point, so what they spend counts against its rate
 */
export function loadTable (points) {
  return workloadTable(points, 'load processes: CPU µs a request', 'loaderCpuUsPerRequest', 1)
}

/**
 * One figure of every workload, every point in a column, and ours against
 * the floor
 */
function workloadTable (points, title, field, digits) {
  const m = points.medians
  const kinds = ['ours', 'go', 'rust', 'canvas', 'echo'].filter(kind => m[kind] != null)
  const rows = WORKLOAD_ROWS.filter(([key]) => key !== 'ping/one').map(([key, label]) => [
    label,
    ...kinds.map(kind => cell(m[kind].workloads[kind === 'echo' ? echoOf(key) : key]?.[field], digits)),
    ratio(m.ours?.workloads[key]?.[field], m.echo?.workloads[echoOf(key)]?.[field])
  ])

  return table([title, ...kinds.map(kind => points.points[kind]), 'ours ÷ echo floor'], rows)
}

/**
 * The targets of issue #19, each with its figures
 */
export function targets (points) {
  const m = points.medians
  const out = []
  const check = (what, value, bound, holds) => out.push({ what, value, bound, met: value != null && bound != null && holds(value, bound) })
  const cpu = (kind, key) => m[kind]?.workloads[key]?.pointCpuUsPerRequest
  const ops = (kind, key) => m[kind]?.workloads[key]?.opsPerSecond

  check('memory per held idle connection ≤ 100 KB (RSS)', m.ours?.rssKBPerConnection, 100, (v, b) => v <= b)
  check('memory per held idle connection ≤ Go\'s (RSS)', m.ours?.rssKBPerConnection, m.go?.rssKBPerConnection, (v, b) => v <= b)
  check('CPU per new client ≤ 3 ms', m.ours?.newClientCpuMs, 3, (v, b) => v <= b)
  check('CPU per new client ≤ Go\'s', m.ours?.newClientCpuMs, m.go?.newClientCpuMs, (v, b) => v <= b)

  for (const key of ['register-same/one', 'register-same/many', 'register-fresh/one', 'register-fresh/many']) {
    check(`${key}: CPU ≤ Go's`, cpu('ours', key), cpu('go', key), (v, b) => v <= b)
  }

  for (const [key, factor] of [['register-same/one', 0.92], ['register-same/many', 0.92], ['register-fresh/one', 0.8], ['register-fresh/many', 0.8]]) {
    const floor = ops('echo', echoOf(key))
    check(`${key}: ops/s ≥ ${factor} × echo floor's`, ops('ours', key), floor == null ? undefined : round(floor * factor, 0), (v, b) => v >= b)
  }

  for (const key of ['discover/one', 'discover/many']) {
    check(`${key}: CPU ≤ Go's`, cpu('ours', key), cpu('go', key), (v, b) => v <= b)
    // the Rust point serves one request per stream: its one-stream cost
    check(`${key}: CPU ≤ Rust's`, cpu('ours', key), cpu('rust', 'discover/one'), (v, b) => v <= b)
    check(`${key}: ops/s > canvas-js's`, ops('ours', key), ops('canvas', key), (v, b) => v > b)
    check(`${key}: CPU < canvas-js's`, cpu('ours', key), cpu('canvas', key), (v, b) => v < b)
  }

  return out
}

export function targetTable (points) {
  return table(['target', 'ours', 'bound', 'met'], targets(points).map(t => [t.what, cell(t.value, 2), cell(t.bound, 2), t.met ? 'yes' : 'no']))
}

/**
 * Peers of the typical profile one core and one GB serve, from the unit
 * costs: for peers that hold their connection and poll on a new stream, for
 * the same on one stream kept open, and for peers that connect for every
 * request. Memory per held peer is the RSS growth per held connection (it
 * holds its registration too); per reconnecting peer, what the point kept
 * per registered peer after its clients left: the JS heap for ours, RSS for
 * the others.
 */
export function capacity (points) {
  const m = points.medians
  const out = {}

  for (const kind of ['ours', 'go', 'rust']) {
    const p = m[kind]

    if (p == null) {
      continue
    }

    const w = (key) => p.workloads[key]?.pointCpuUsPerRequest
    const discoverOne = w('discover/one')
    const discoverMany = w('discover/many') ?? discoverOne
    const registerSame = w('register-same/one')
    const registerFresh = w('register-fresh/one')
    const idle = p.idleCpuUsPerConnectionPerMinute ?? 0
    // a poll on a new connection: the new client's cost with a DISCOVER
    // instead of its REGISTER (a record the point had not seen)
    const connectAndDiscover = p.newClientCpuMs * 1000 - registerFresh + discoverOne
    const connectAndRegister = p.newClientCpuMs * 1000 - registerFresh + registerSame
    const perMinute = {
      held: idle + PROFILE.discoversPerMinute * discoverOne + PROFILE.registersPerMinute * registerSame,
      heldOneStream: idle + PROFILE.discoversPerMinute * discoverMany + PROFILE.registersPerMinute * registerSame,
      heldJsMonitor: idle + PROFILE.discoversPerMinute * discoverOne + PROFILE.registersPerMinute * registerSame + MONITOR_PINGS_PER_MINUTE * (w('ping/one') ?? 0),
      reconnect: PROFILE.discoversPerMinute * connectAndDiscover + PROFILE.registersPerMinute * connectAndRegister
    }
    const gb = 1024 * 1024
    out[kind] = {
      cpuUsPerPeerPerMinute: Object.fromEntries(Object.entries(perMinute).map(([k, v]) => [k, round(v, 1)])),
      peersPerCore: Object.fromEntries(Object.entries(perMinute).map(([k, v]) => [k, Math.floor(60e6 / v)])),
      peersPerGB: {
        held: Math.floor(gb / p.rssKBPerConnection),
        heldOneStream: p.idleStreamRssKB == null ? undefined : Math.floor(gb / (p.rssKBPerConnection + Math.max(0, p.idleStreamRssKB, p.idleStreamHeapKB ?? 0))),
        // the heap where there is one: RSS keeps the high-water mark of
        // the connections that came and went
        reconnect: Math.floor(gb / Math.max(0.1, p.goneHeapKBPerPeer ?? p.goneRssKBPerPeer))
      }
    }
  }

  return out
}

export function capacityTable (points) {
  const c = capacity(points)
  const kinds = Object.keys(c)
  const fmt = (value) => value == null ? '-' : value.toLocaleString('en-US')

  return table(['peers (1 namespace, a DISCOVER a minute, a REGISTER every 96 min)', ...kinds.map(kind => points.points[kind])], [
    ['held connection, new stream per request: CPU µs per peer a minute', ...kinds.map(kind => cell(c[kind].cpuUsPerPeerPerMinute.held))],
    ['held connection, new stream per request: peers per core', ...kinds.map(kind => fmt(c[kind].peersPerCore.held))],
    ['held connection, polls on one stream kept open: peers per core', ...kinds.map(kind => fmt(c[kind].peersPerCore.heldOneStream))],
    ['held connection, js-libp2p client with its connection monitor: peers per core', ...kinds.map(kind => fmt(c[kind].peersPerCore.heldJsMonitor))],
    ['held connection: peers per GB (RSS growth ÷ connections)', ...kinds.map(kind => fmt(c[kind].peersPerGB.held))],
    ['held connection and a stream kept open: peers per GB', ...kinds.map(kind => fmt(c[kind].peersPerGB.heldOneStream))],
    ['new connection per request: CPU µs per peer a minute', ...kinds.map(kind => cell(c[kind].cpuUsPerPeerPerMinute.reconnect))],
    ['new connection per request: peers per core', ...kinds.map(kind => fmt(c[kind].peersPerCore.reconnect))],
    ['new connection per request: peers per GB (kept per registered peer, heap for ours)', ...kinds.map(kind => fmt(c[kind].peersPerGB.reconnect))]
  ])
}

/**
 * Everything, as the benchmark prints it
 */
export function pointsReport (points) {
  return [
    `Points side by side: ${points.parameters.held} held connections from ${points.parameters.loaders} load processes, median of ${points.parameters.runs} runs`,
    '',
    unitCostTable(points),
    '',
    throughputTable(points),
    '',
    loadTable(points),
    '',
    'Targets (issue #19)',
    '',
    targetTable(points),
    '',
    'Capacity model',
    '',
    capacityTable(points),
    ''
  ].join('\n')
}

#!/usr/bin/env node
/*
 * An A/B of the echo floor (bench/echo.mjs): the CPU a new client costs it
 * with every change the command makes, and without the ones in AB_WITHOUT
 * (the items of ECHO_WITHOUT, comma-separated), alternated over AB_ROUNDS
 * rounds, the order swapped every round, so that neither always runs on a
 * machine the other just left.
 *
 * Each run starts the echo floor on AB_LISTEN (comma-separated multiaddrs;
 * the default is the command's own listeners, TCP and WebSockets on every
 * interface, on free ports), warms it up with AB_WARM clients that then hang
 * up, and connects AB_CLIENTS more from one load process (bench/load.mjs),
 * each sending one echo request as long as a REGISTER. Prints one line per
 * run and the figures as JSON.
 *
 *   node bench/echo-ab.mjs                       # AB_WITHOUT=addresses
 *   AB_WITHOUT=identify AB_LISTEN=/ip4/127.0.0.1/tcp/0 node bench/echo-ab.mjs
 */

import { fileURLToPath } from 'node:url'
import { cpuTime, ECHO_PROTOCOL, echoRequest, median, positive, quiet, round, startJsonChild } from './lib.mjs'

const WITHOUT = process.env.AB_WITHOUT ?? 'addresses'
const LISTEN = (process.env.AB_LISTEN ?? '/ip4/0.0.0.0/tcp/0,/ip4/0.0.0.0/tcp/0/ws').split(',')
const ROUNDS = positive('AB_ROUNDS', 4)
const CLIENTS = positive('AB_CLIENTS', 1000)
const WARM = positive('AB_WARM', 300)
// a REGISTER of a standard record and its answer, as bench/points.mjs sizes them
const REQUEST = Buffer.from(echoRequest(400, 20)).toString('base64')

const here = (file) => fileURLToPath(new URL(file, import.meta.url))

/**
 * The point's CPU per new client, in ms, with `without` taken back
 */
async function run (without, firstClient) {
  const point = await startJsonChild([here('./echo.mjs'), ...LISTEN.flatMap(address => ['--listen', address]), '--max-connections', String(2 * (CLIENTS + WARM))], {
    env: { ECHO_WITHOUT: without }
  })
  const load = await startJsonChild([here('./load.mjs')], {
    env: { LOAD_FIRST: String(firstClient), LOAD_COUNT: String(CLIENTS), LOAD_WARM: String(WARM), LOAD_WORKLOAD_CLIENTS: '0' }
  })

  try {
    const address = point.info.multiaddrs.find(ma => ma.startsWith('/ip4/127.0.0.1/tcp/') && !ma.includes('/ws')) ?? point.info.multiaddrs[0]
    const connect = async (set) => load.send({ cmd: 'connect', set, multiaddr: address, protocol: ECHO_PROTOCOL, bytes: REQUEST, concurrency: 16, discoverNs: 'none', discoverCount: 0, ns: 'none', ttl: 7200 })

    await connect('warm')
    await load.send({ cmd: 'hangup', set: 'warm' })
    await quiet(point.pid)
    const before = cpuTime(point.pid)
    const result = await connect('main')
    await quiet(point.pid)

    if (result.failed > 0) {
      throw new Error(`${result.failed} clients could not connect: ${result.firstFailure}`)
    }

    return { msPerClient: (cpuTime(point.pid) - before) / result.ok, addresses: point.info.multiaddrs.length }
  } finally {
    await load.stop()
    await point.stop()
  }
}

const figures = { with: [], without: [] }

for (let i = 0; i < ROUNDS; i++) {
  const order = i % 2 === 0 ? ['with', 'without'] : ['without', 'with']

  for (const variant of order) {
    // clients of their own each run: no source address is reused at once
    const { msPerClient, addresses } = await run(variant === 'with' ? '' : WITHOUT, (2 * i + (variant === 'with' ? 0 : 1)) * (CLIENTS + WARM))
    figures[variant].push(round(msPerClient, 3))
    console.info(`round ${i + 1}: ${variant === 'with' ? 'with every change' : `without ${WITHOUT}`}, ${addresses} addresses: ${round(msPerClient, 3)} ms a new client`)
  }
}

console.info(JSON.stringify({ without: WITHOUT, listen: LISTEN, clients: CLIENTS, msPerClient: figures, median: { with: median(figures.with), without: median(figures.without) } }))

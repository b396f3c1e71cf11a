/*
 * Loaded into the JavaScript points the benchmarks start (`node --expose-gc
 * --import bench/probe.mjs ...`): answers `{ id, cmd: 'memory' }` on the IPC
 * channel with `process.memoryUsage()` after two full garbage collections and
 * the active handles and requests by type, so what a point holds can be read
 * without changing the point itself. The channel does not keep the process
 * alive.
 */

import v8 from 'node:v8'

if (process.send != null) {
  process.channel?.unref()
  process.on('message', (message) => {
    if (message?.cmd !== 'memory') {
      return
    }

    globalThis.gc?.()
    globalThis.gc?.()
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map(space => [space.space_name, space.space_used_size]))
    const resources = {}

    for (const type of process.getActiveResourcesInfo()) {
      resources[type] = (resources[type] ?? 0) + 1
    }

    process.send({ id: message.id, memory: process.memoryUsage(), spaces, resources })
  })
}

/**
 * Node.js-only test helpers: TCP nodes and processes
 */

export { createTcpNode } from './tcp-node.ts'
export { startRedis } from './redis-server.ts'
export type { TestRedis } from './redis-server.ts'

/**
 * Node.js-only test helpers: TCP nodes and processes
 */

export { Children } from './children.ts'
export type { Child } from './children.ts'
export { createTcpNode } from './tcp-node.ts'
export { startRedis, startRedisOn } from './redis-server.ts'
export type { TestRedis } from './redis-server.ts'

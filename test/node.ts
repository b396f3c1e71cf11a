// tests that need Node.js: they spawn processes or use the file system
import './bin/rendezvous-server.node.ts'
import './interop/canvas.node.ts'
import './redis/index.node.ts'
import './hardening/load.node.ts'
import './client/capped-point.node.ts'

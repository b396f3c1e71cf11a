// tests that need Node.js: they spawn processes or use the file system
import './bin/flags.node.ts'
import './bin/rendezvous-server.node.ts'
import './server/datastore-store.node.ts'
import './interop/canvas.node.ts'
import './redis/index.node.ts'
import './hardening/load.node.ts'

// tests that need Node.js: they spawn processes or use the file system
import './bin/rendezvous-server.node.ts'

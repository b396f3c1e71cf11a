// tests that need Node.js: they spawn processes or use the file system
import './interop/canvas.node.ts'
import './hardening/load.node.ts'

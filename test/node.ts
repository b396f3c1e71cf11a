// tests that need Node.js: they spawn processes or use the file system
import './bundle.node.ts'
import './interop/canvas.node.ts'
import './hardening/load.node.ts'

// interop with the other implementations, each in processes of its own:
// `npm run test:interop` runs this file alone; `npm test` runs it through
// test/node.ts unless RENDEZVOUS_INTEROP=off
import './canvas.node.ts'
import './rust.node.ts'
import './go.node.ts'

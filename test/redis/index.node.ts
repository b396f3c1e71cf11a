// the Redis store against a real redis-server, a fleet of two
// rendezvous-server processes sharing it, and a point whose Redis goes down
// and comes back (scripts/setup-redis.sh installs redis-server; `npm test`
// runs it first)
import './redis-store.node.ts'
import './fleet.node.ts'
import './outage.node.ts'

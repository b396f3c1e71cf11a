// the Redis store against a real redis-server, and a fleet of two
// rendezvous-server processes sharing it (scripts/setup-redis.sh installs
// redis-server; `npm test` runs it first)
import './redis-store.node.ts'
import './fleet.node.ts'

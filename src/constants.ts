/**
 * Time units, in milliseconds
 */
export const SECOND = 1000
export const MINUTE = 60 * SECOND
export const HOUR = 60 * MINUTE

/**
 * The protocol id from the specification
 */
export const PROTOCOL = '/rendezvous/1.0.0'

/**
 * The TTL a registration gets when the REGISTER message carries none (ms)
 */
export const DEFAULT_TTL = 2 * HOUR

/**
 * The shortest TTL a point accepts by default (ms). The specification
 * recommends 2 h but Waku deployments register for 60 s every 10 s, so a
 * point with a 2 h floor would reject them.
 */
export const DEFAULT_MIN_TTL = MINUTE

/**
 * The longest TTL a point accepts by default (ms), the specification's bound
 */
export const DEFAULT_MAX_TTL = 72 * HOUR

/**
 * The longest namespace, in UTF-8 bytes, per the specification
 */
export const DEFAULT_MAX_NAMESPACE_LENGTH = 255

/**
 * How many namespaces one peer may be registered in at a point
 */
export const DEFAULT_MAX_REGISTRATIONS_PER_PEER = 1000

/**
 * How many registrations a point stores in all
 */
export const DEFAULT_MAX_REGISTRATIONS = 1_000_000

/**
 * How many bytes a point's registrations may take in all, as
 * `registrationBytes()` and `namespaceBytes()` reckon them: 512 MiB holds
 * `DEFAULT_MAX_REGISTRATIONS` registrations with records of up to about 280
 * bytes (one with a 169-byte record costs 425), and leaves most of Node.js
 * 24's default heap to the rest of the point: the heap limit is 4.2 GiB with
 * 16 GB of memory or more, 2.2 GiB with 4 to 8 GB, 1.1 GiB with 2 GB
 */
export const DEFAULT_MAX_STORE_BYTES = 512 * 1024 * 1024

/**
 * The largest signed peer record a point accepts by default, in bytes.
 * Records of real peers are far smaller (169 bytes with one address), and
 * nim and nwaku points read at most 4096 bytes of a REGISTER, so a peer that
 * registers anywhere already keeps its record under this.
 */
export const DEFAULT_MAX_RECORD_SIZE = 4096

/**
 * What a store spends on a registration besides its record, in bytes: in
 * `MemoryRegistrationStore` its peer id string, the registration object and
 * its slots in the indexes (measured at 1M registrations: see BENCHMARKS.md)
 */
export const REGISTRATION_OVERHEAD_BYTES = 256

/**
 * What a store spends on a namespace it holds besides its name, in bytes:
 * in `MemoryRegistrationStore` the namespace's index and its map entry
 * (measured with one namespace per registration: see BENCHMARKS.md)
 */
export const NAMESPACE_OVERHEAD_BYTES = 330

/**
 * The share of `maxRegistrations` one host may hold by default: with a
 * million registrations, 10,000 for one IPv4 address or IPv6 /64, so one
 * machine cannot fill a point, while a campus or carrier NAT with thousands
 * of peers behind one address is still served
 */
export const DEFAULT_HOST_SHARE = 0.01

/**
 * The per-host cap is never below this by default, so a small point still
 * serves a NAT with a hundred peers
 */
export const MIN_REGISTRATIONS_PER_HOST = 100

/**
 * IPv4 addresses that share this many leading bits are one host by default
 */
export const DEFAULT_IPV4_PREFIX_LENGTH = 32

/**
 * IPv6 addresses that share this many leading bits are one host by default:
 * a /64 is what one subscriber or one machine usually gets
 */
export const DEFAULT_IPV6_PREFIX_LENGTH = 64

/**
 * The largest number of registrations in one DISCOVER response
 */
export const DEFAULT_MAX_DISCOVER_LIMIT = 1000

/**
 * The largest request a point reads, in bytes. A REGISTER with a signed peer
 * record is well under 4 KiB in practice (nim and nwaku points read at most
 * 4096 bytes), so this leaves room without inviting memory abuse.
 */
export const DEFAULT_MAX_REQUEST_SIZE = 8 * 1024

/**
 * The largest response a client reads, in bytes: a full page of 1000
 * registrations with large records fits
 */
export const DEFAULT_MAX_RESPONSE_SIZE = 4 * 1024 * 1024

/**
 * The largest REGISTER a client sends, in bytes: nim and nwaku points read at
 * most 4096 bytes of a request
 */
export const MAX_REGISTER_MESSAGE_SIZE = 4096

/**
 * How long a point waits for the next request on a stream, or a client for a
 * response (ms)
 */
export const DEFAULT_TIMEOUT = 10 * SECOND

/**
 * Inbound rendezvous streams allowed per connection
 */
export const DEFAULT_MAX_INBOUND_STREAMS = 16

/**
 * Requests one peer may send a point per rate limit window, over all its
 * connections and streams: enough for a client registering in dozens of
 * namespaces and polling them at once, far below what one peer needs to keep
 * a point busy
 */
export const DEFAULT_MAX_REQUESTS_PER_PEER = 100

/**
 * The window of the per-peer request rate limit (ms)
 */
export const DEFAULT_RATE_LIMIT_WINDOW = SECOND

/**
 * Most peers whose request counts a point tracks at once. Counts lapse at the
 * end of their window; past this many peers in one window the oldest count is
 * forgotten, so the rate limiter's memory stays bounded whatever connects.
 */
export const RATE_LIMIT_MAX_PEERS = 10_000

/**
 * Outbound rendezvous streams allowed per connection
 */
export const DEFAULT_MAX_OUTBOUND_STREAMS = 16

/**
 * How often a point reclaims the memory of expired registrations (ms).
 * Expired registrations are never served regardless of this interval.
 */
export const DEFAULT_EXPIRY_INTERVAL = 10 * SECOND

/**
 * Most expired registrations a point removes in one step of the sweep, so a
 * million expiring together never block the event loop for long
 */
export const EXPIRY_BATCH_SIZE = 1_000

/**
 * The most expired, not yet reclaimed registrations one DISCOVER walks past
 * in the memory store before it answers with what it has
 */
export const MAX_EXPIRED_PER_DISCOVER = 10_000

/**
 * How often a client polls each namespace at each point by default (ms)
 */
export const DEFAULT_DISCOVER_INTERVAL = MINUTE

/**
 * The page size a client asks for by default
 */
export const DEFAULT_DISCOVER_LIMIT = 100

/**
 * At most this many pages are fetched back to back in one poll or one
 * `discover()`, so a point that always moves its cookie cannot keep a client
 * busy forever
 */
export const MAX_PAGES_PER_POLL = 100

/**
 * `discover()` follows at most this many empty pages in a row whose cookie
 * moved. Points skip lapsed registrations that way (ours 10,000 a page in
 * memory, 1,000 with Redis), while rust-libp2p's issues a new cookie with
 * every answer, so "the cookie moved" alone never ends a walk there. A poll
 * stops at its first empty page instead: it resumes from its cookie at the
 * next interval.
 */
export const MAX_EMPTY_PAGES = 10

/**
 * How many discovered peers a client remembers by default
 */
export const DEFAULT_MAX_PEERS = 10_000

/**
 * The cap of a client's backoff after failed requests to a point (ms)
 */
export const DEFAULT_MAX_RECONNECT_DELAY = MINUTE

/**
 * A client registers again when this share of the granted TTL has passed,
 * leaving a fifth of the TTL as margin (24 min of 2 h, 12 s of 60 s)
 */
export const REFRESH_RATIO = 0.8

/**
 * A point that grants a much shorter TTL than asked cannot make a client
 * refresh faster than this share of this TTL (ms): 8 s, unless the client
 * itself asked for less
 */
export const MIN_REFRESH_TTL = 10 * SECOND

/**
 * Requests a client has in flight at one point at most. Points limit
 * rendezvous streams per connection (ours and js-libp2p's 16 by default, and
 * the limit is not on the wire), so a client with many namespaces sends them
 * a few at a time rather than all at once.
 */
export const MAX_CONCURRENT_REQUESTS_PER_POINT = 4

/**
 * How long a client keeps a connection it opened to a point once it has no
 * request left for it (ms). Requests due together share one connection; a
 * client does not hold a slot of a point with a connection cap between its
 * polls.
 */
export const CONNECTION_LINGER = 50

/**
 * The peer-store tag a client puts on the peers it discovers
 */
export const DEFAULT_TAG_NAME = 'rendezvous'

/**
 * The value of that tag (0 to 100), as `@libp2p/bootstrap` tags its peers
 */
export const DEFAULT_TAG_VALUE = 50

/**
 * How long a client waits for its own addresses to settle before it
 * registers again with the new ones (ms)
 */
export const ADDRESS_CHANGE_DEBOUNCE = SECOND

/**
 * identify agent versions, by prefix, of clients a point serves legacy peer
 * records only: rust-libp2p's default agent version, `rust-libp2p/<version>`
 */
export const DEFAULT_LEGACY_RECORD_AGENTS: readonly string[] = ['rust-libp2p/']

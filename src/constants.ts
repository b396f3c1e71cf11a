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

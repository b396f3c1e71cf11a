import { InvalidOptionError } from 'libp2p-rendezvous'

/**
 * Throws `InvalidOptionError` unless `url` is a `redis:` or `rediss:` URL
 * with a host, an optional port and an optional database number
 */
export function checkRedisUrl (url: string): URL {
  let parsed: URL

  try {
    parsed = new URL(url)
  } catch {
    throw new InvalidOptionError('url', `"${redactUrl(url)}" is not a URL`)
  }

  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new InvalidOptionError('url', `"${redactUrl(url)}" must start with redis:// or rediss://`)
  }

  if (parsed.hostname === '') {
    throw new InvalidOptionError('url', `"${redactUrl(url)}" has no host`)
  }

  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d+$/.test(parsed.pathname)) {
    throw new InvalidOptionError('url', `"${redactUrl(url)}": the path must be a database number, e.g. /0`)
  }

  if (parsed.search !== '' || parsed.hash !== '') {
    throw new InvalidOptionError('url', `"${redactUrl(url)}" must have no query or fragment`)
  }

  return parsed
}

/**
 * The URL as given, without its password, fit for logs and error messages
 */
export function redactUrl (url: string): string {
  return url.replace(/^([a-z][a-z\d+.-]*:\/\/[^:@/]*):[^@/]*@/i, '$1:***@')
}

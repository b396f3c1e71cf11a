import { equals as uint8ArrayEquals } from 'uint8arrays/equals'
import { MAX_PAGES_PER_POLL } from '../constants.ts'
import type { DiscoverResult } from './requests.ts'

export interface Page extends DiscoverResult {
  /**
   * The point has nothing more after this page: it gave no cookie, gave back
   * the cookie it was sent, or this was the last of the empty pages a walk
   * follows
   */
  last: boolean
}

export interface WalkOptions {
  /**
   * Where to start: `undefined` for the beginning
   */
  cookie?: Uint8Array<ArrayBuffer>

  /**
   * How many empty pages in a row end the walk
   */
  maxEmptyPages: number
}

/**
 * Walks a namespace at a point page after page, each page fetched with the
 * cookie of the one before. A short page is not the last: a point answers
 * one short, even empty, when it skips lapsed registrations, with a cookie
 * past them. The walk ends at a page without a cookie or with the cookie it
 * was sent (no progress), after `maxEmptyPages` empty pages in a row, or
 * after `MAX_PAGES_PER_POLL` pages.
 */
export async function * walkPages (fetchPage: (cookie?: Uint8Array<ArrayBuffer>) => Promise<DiscoverResult>, options: WalkOptions): AsyncGenerator<Page> {
  let cookie = options.cookie
  let emptyPages = 0

  for (let pages = 0; pages < MAX_PAGES_PER_POLL; pages++) {
    const page = await fetchPage(cookie)
    const progressed = page.cookie != null && page.cookie.byteLength > 0 && (cookie == null || !uint8ArrayEquals(page.cookie, cookie))
    emptyPages = page.registrations.length === 0 ? emptyPages + 1 : 0
    const last = !progressed || emptyPages >= options.maxEmptyPages

    yield { ...page, last }

    if (last) {
      return
    }

    cookie = page.cookie
  }
}

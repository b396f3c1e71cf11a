import { expect } from 'aegir/chai'
import { walkPages } from '../../src/client/paging.ts'
import { MAX_PAGES_PER_POLL } from '../../src/constants.ts'
import type { Page } from '../../src/client/paging.ts'
import type { DiscoverResult } from '../../src/client/requests.ts'

const registration = { namespace: 'ns', signedPeerRecord: new Uint8Array(), ttl: 1000 }

function cookie (n: number): Uint8Array<ArrayBuffer> {
  return new Uint8Array([n])
}

/**
 * Walks with a point answering `pages` in order, and returns the cookies
 * sent and the pages walked
 */
async function walk (pages: DiscoverResult[], maxEmptyPages: number, start?: Uint8Array<ArrayBuffer>): Promise<{ sent: Array<number | undefined>, walked: Page[] }> {
  const sent: Array<number | undefined> = []
  const walked: Page[] = []

  for await (const page of walkPages(async (c) => {
    sent.push(c?.[0])
    return pages[sent.length - 1] ?? { registrations: [], cookie: c }
  }, { cookie: start, maxEmptyPages })) {
    walked.push(page)
  }

  return { sent, walked }
}

describe('walking pages', () => {
  it('follows a short page that moved the cookie, and ends where the cookie stops moving', async () => {
    const { sent, walked } = await walk([
      { registrations: [registration, registration], cookie: cookie(1) },
      { registrations: [registration], cookie: cookie(2) },
      { registrations: [], cookie: cookie(2) }
    ], 1)

    expect(sent).to.deep.equal([undefined, 1, 2])
    expect(walked.map(page => page.last)).to.deep.equal([false, false, true])
  })

  it('follows empty pages that move the cookie past lapsed registrations, up to maxEmptyPages', async () => {
    const lapsed = await walk([
      { registrations: [], cookie: cookie(1) },
      { registrations: [registration], cookie: cookie(2) }
    ], 10)
    expect(lapsed.walked.flatMap(page => page.registrations)).to.have.lengthOf(1)

    // a point issuing a new cookie with every answer, as rust-libp2p's
    const endless = await walk(Array.from({ length: 50 }, (_, i) => ({ registrations: [], cookie: cookie(i + 1) })), 3)
    expect(endless.sent).to.have.lengthOf(3)
    expect(endless.walked.at(-1)?.last).to.be.true()
  })

  it('ends at a page without a cookie', async () => {
    const { sent, walked } = await walk([
      { registrations: [registration] },
      { registrations: [registration], cookie: cookie(9) }
    ], 1)

    expect(sent).to.deep.equal([undefined])
    expect(walked[0].last).to.be.true()
  })

  it('resumes from the cookie it is given', async () => {
    const { sent } = await walk([{ registrations: [], cookie: cookie(7) }], 1, cookie(7))
    expect(sent).to.deep.equal([7])
  })

  it('stops after MAX_PAGES_PER_POLL full pages, without a last page', async () => {
    const { sent, walked } = await walk(Array.from({ length: MAX_PAGES_PER_POLL + 5 }, (_, i) => ({ registrations: [registration], cookie: cookie(i % 250 + 1) })), 1)

    expect(sent).to.have.lengthOf(MAX_PAGES_PER_POLL)
    expect(walked.some(page => page.last)).to.be.false()
  })
})

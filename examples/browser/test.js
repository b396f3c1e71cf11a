/* eslint-disable no-console */
/**
 * Opens the browser example in two pages of Debian's Chromium, driven by
 * playwright-core, and checks that each page lists the other's peer id, has
 * connected to it and shows the round-trip time of a ping to it
 */
import { chromium } from 'playwright-core'
import { startExample } from './server.js'

const example = await startExample()
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM_BIN ?? '/usr/bin/chromium',
  args: [
    '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update',
    // ICE candidates with the host's addresses rather than mDNS names, which
    // nothing resolves on a machine without a network
    '--disable-features=WebRtcHideLocalIpsWithMdns'
  ]
})

try {
  const pages = [await browser.newPage(), await browser.newPage()]
  await Promise.all(pages.map(async page => page.goto(example.url)))

  // each tab shows its own peer id once its node has started
  const ids = await Promise.all(pages.map(async page => {
    await page.waitForFunction(() => document.getElementById('self')?.textContent?.startsWith('12D3KooW'), undefined, { timeout: 30_000 })
    return page.textContent('#self')
  }))

  await Promise.all(pages.map(async (page, i) => {
    const other = ids[1 - i]
    await page.waitForSelector(`li[data-peer="${other}"]`, { timeout: 30_000 })
  }))

  console.info(`page 1 (${ids[0]}) shows page 2 (${ids[1]}), and page 2 shows page 1`)

  // each has connected to the other and pinged it: a first attempt made
  // before the other page registered its relay address may take 20 s to
  // fail before the page tries the newer addresses
  const pings = await Promise.all(pages.map(async (page, i) => {
    const item = `li[data-peer="${ids[1 - i]}"]`
    await page.waitForSelector(`${item}[data-rtt]`, { timeout: 60_000 })
    return {
      rtt: Number(await page.getAttribute(item, 'data-rtt')),
      transport: await page.getAttribute(item, 'data-transport'),
      text: await page.textContent(`${item} .rtt`)
    }
  }))

  for (const [i, ping] of pings.entries()) {
    if (!Number.isFinite(ping.rtt) || ping.rtt < 0 || !/^ping \d+ ms$/.test(ping.text ?? '')) {
      throw new Error(`page ${i + 1} shows no round-trip time: ${JSON.stringify(ping)}`)
    }

    console.info(`page ${i + 1} connected to page ${2 - i} over ${ping.transport}: ${ping.text}`)
  }
} finally {
  await browser.close()
  await example.stop()
}

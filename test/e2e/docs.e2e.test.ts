/**
 * `/docs` in a real browser (Debian's Chromium driven by playwright-core): the page renders
 * the reference from `/openapi.json` with only what the Worker serves, and asks for
 * nothing outside it.
 */
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { launchChromium } from './browser'

let platform: RunningPlatform
let browser: Browser

beforeAll(async () => {
  platform = await startPlatform()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await platform?.stop()
})

describe('/docs in Chromium', () => {
  it('renders every operation of the OpenAPI document, loading nothing from elsewhere', async () => {
    const page = await browser.newPage()
    const requested: string[] = []
    page.on('request', (request) => requested.push(request.url()))
    const errors: string[] = []
    page.on('pageerror', (error) => errors.push(error.message))

    await page.goto(`${platform.url}/docs`)
    await page.waitForSelector('details summary')

    const document = (await (await fetch(`${platform.url}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, unknown>>
    }
    const operations = Object.values(document.paths).reduce((n, item) => n + Object.keys(item).length, 0)
    expect(await page.locator('details').count()).toBe(operations)
    expect(await page.locator('h2').allTextContents()).toEqual(
      expect.arrayContaining(['platform', 'tokens', 'queues', 'sequencer']),
    )
    await page.locator('summary', { hasText: '/v1/tokens/{tokenId}' }).first().click()
    await expect.poll(() => page.locator('details[open] pre').count()).toBeGreaterThan(0)

    expect(errors).toEqual([])
    expect(requested.every((url) => url.startsWith(platform.url))).toBe(true)
    await page.close()
  })
})

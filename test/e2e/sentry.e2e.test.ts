/**
 * `@sentry/browser` in Chromium against the platform: a local test page loads the SDK
 * (bundled here with esbuild), configured with a DSN the API issued, and throws errors:
 * uncaught ones from a minified script whose source map was uploaded for the release, and
 * captured ones from the page itself. The issues API then lists them grouped, with the
 * minified frames mapped back to the original file, lines and function names.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { build } from 'esbuild'
import type { Browser } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'
import { launchChromium } from './browser'

const RELEASE = 'web@1.0.0'
const CHECKOUT_SOURCE = `// The shop's checkout, minified for the page.
function validateCart(cart) {
  if (cart.items.length === 0) {
    throw new TypeError('Cart ' + cart.id + ' is empty')
  }
  return cart
}

function checkout(cart) {
  validateCart(cart)
  return 'ok'
}

window.runCheckout = function (id) {
  return checkout({ id: id, items: [] })
}
`

let platform: RunningPlatform
let browser: Browser
let page: Server
let pageUrl: string
let dir: string

interface Frame {
  filename: string
  function: string
  lineno: number | null
  colno: number | null
  inApp: boolean
}
interface Issue {
  id: string
  title: string
  count: number
  status: string
  firstRelease: string | null
  stacktrace: Frame[]
}

async function bundle(): Promise<Record<string, string>> {
  dir = mkdtempSync(join(tmpdir(), 'sentry-e2e-'))
  mkdirSync(join(dir, 'src'))
  mkdirSync(join(dir, 'static'))
  writeFileSync(join(dir, 'src', 'checkout.js'), CHECKOUT_SOURCE)
  await build({
    entryPoints: [join(dir, 'src', 'checkout.js')],
    outfile: join(dir, 'static', 'app.min.js'),
    bundle: true,
    minify: true,
    format: 'iife',
    sourcemap: true,
    sourcesContent: true,
    logLevel: 'silent',
  })
  const sdk = await build({
    stdin: {
      contents: "import * as Sentry from '@sentry/browser'; window.Sentry = Sentry",
      resolveDir: process.cwd(),
    },
    bundle: true,
    format: 'iife',
    platform: 'browser',
    write: false,
    logLevel: 'silent',
  })
  return {
    '/static/app.min.js': readFileSync(join(dir, 'static', 'app.min.js'), 'utf8'),
    '/static/app.min.js.map': readFileSync(join(dir, 'static', 'app.min.js.map'), 'utf8'),
    '/sentry.js': sdk.outputFiles[0]?.text ?? '',
  }
}

function indexHtml(dsn: string): string {
  return `<!doctype html><html><head><script src="/sentry.js"></script>
<script>
Sentry.init({ dsn: ${JSON.stringify(dsn)}, release: ${JSON.stringify(RELEASE)}, environment: 'e2e' })
Sentry.setUser({ id: 'shopper-1' })
</script>
<script src="/static/app.min.js"></script></head><body>
<script>
function reportInline(n) {
  try {
    throw new Error('Inline failure ' + n)
  } catch (error) {
    Sentry.captureException(error)
  }
}
reportInline(1)
reportInline(2)
setTimeout(function () { window.runCheckout(1) }, 0)
setTimeout(function () { window.runCheckout(2) }, 10)
</script></body></html>`
}

beforeAll(async () => {
  platform = await startPlatform()
  browser = await launchChromium()
})

afterAll(async () => {
  await browser?.close()
  await new Promise((resolve) => (page ? page.close(resolve) : resolve(undefined)))
  await platform?.stop()
  if (dir) rmSync(dir, { recursive: true, force: true })
})

describe('@sentry/browser in Chromium', () => {
  it('ends up as grouped issues with de-minified frames', async () => {
    const token = await platform.token('e2e-sentry', ['monitoring:read', 'monitoring:write'])
    const api = (path: string, init: RequestInit = {}) =>
      fetch(`${platform.url}/v1/monitoring${path}`, {
        ...init,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
      })
    const created = await api('/projects', {
      method: 'POST',
      body: JSON.stringify({ name: `shop-${Date.now()}` }),
    })
    expect(created.status).toBe(201)
    const project = (await created.json()) as { id: string; keys: Array<{ dsn: string }> }
    const dsn = project.keys[0]?.dsn as string
    expect(dsn).toMatch(/^http:\/\/[0-9a-f]+@127\.0\.0\.1:\d+\/\d+$/)

    const files = await bundle()
    const upload = await api(
      `/projects/${project.id}/releases/${RELEASE}/files?name=${encodeURIComponent('~/static/app.min.js.map')}`,
      { method: 'POST', body: files['/static/app.min.js.map'] },
    )
    expect(upload.status).toBe(201)

    page = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      if (path === '/favicon.ico') return res.writeHead(204).end()
      const body = path === '/' ? indexHtml(dsn) : files[path]
      if (body === undefined) return res.writeHead(404).end()
      const type = path === '/' ? 'text/html' : path.endsWith('.map') ? 'application/json' : 'text/javascript'
      res.writeHead(200, { 'content-type': type }).end(body)
    })
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve))
    pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}/`

    const tab = await browser.newPage()
    const consoleErrors: string[] = []
    tab.on('console', (m) => {
      if (m.type() === 'error' && !/Cart \d is empty/.test(m.text())) consoleErrors.push(m.text())
    })
    const envelopes: number[] = []
    tab.on('response', (r) => {
      if (r.url().includes('/envelope/')) envelopes.push(r.status())
    })
    await tab.goto(pageUrl)

    let issues: Issue[] = []
    await expect
      .poll(
        async () => {
          const r = await api(`/projects/${project.id}/issues?limit=10`)
          issues = ((await r.json()) as { issues: Issue[] }).issues
          return issues.map((i) => `${i.title.replace(/\d/, 'N')} ×${i.count}`).sort()
        },
        { timeout: 30_000, interval: 250 },
      )
      .toEqual(['Error: Inline failure N ×2', 'TypeError: Cart N is empty ×2'])
    await tab.close()

    expect(consoleErrors).toEqual([])
    expect(envelopes.length).toBeGreaterThanOrEqual(4)
    expect(envelopes.every((s) => s === 200)).toBe(true)

    const minified = issues.find((i) => i.title.startsWith('TypeError')) as Issue
    expect(minified.firstRelease).toBe(RELEASE)
    const mapped = minified.stacktrace.filter((f) => f.filename.endsWith('src/checkout.js'))
    // The crash is last: validateCart ← checkout ← runCheckout, at their original lines.
    expect(mapped.map((f) => [f.function, f.lineno])).toEqual([
      ['runCheckout', 15],
      ['checkout', 10],
      ['validateCart', 4],
    ])
    expect(minified.stacktrace.some((f) => f.filename.includes('app.min.js'))).toBe(false)

    const detail = (await (await api(`/projects/${project.id}/issues/${minified.id}`)).json()) as {
      userCount: number
      latestEvent: { environment: string; user: { id: string }; exceptions: Array<{ frames: Frame[] }> }
    }
    expect(detail.userCount).toBe(1)
    expect(detail.latestEvent.environment).toBe('e2e')
    expect(detail.latestEvent.user.id).toBe('shopper-1')
  })
})

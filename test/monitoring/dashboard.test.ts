/** The dashboard page: served without a token, self-contained, locked down by its CSP. */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'

describe('monitoring dashboard', () => {
  it('is one self-contained HTML page', async () => {
    const response = await SELF.fetch('http://edge.test/v1/monitoring/dashboard')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toMatch(/^text\/html/)
    const csp = response.headers.get('content-security-policy') ?? ''
    expect(csp).toContain("default-src 'none'")
    expect(csp).toContain("connect-src 'self'")
    const html = await response.text()
    // No external assets: no linked files, no sources, no URLs but the SVG namespace.
    expect(html).not.toMatch(/<link\b|\bsrc=|\bhref=/i)
    expect(html.match(/https?:\/\/[^\s'"]+/g)).toEqual(['http://www.w3.org/2000/svg'])
    for (const id of ['token', 'query', 'chart', 'alerts', 'issues']) expect(html).toContain(`id="${id}"`)
    // API text reaches the page as text only.
    expect(html).not.toContain('innerHTML')
  })
})

/**
 * What the HTML port must extract from a page, whichever HTMLRewriter runs underneath:
 * workerd's (test/search/crawl-html.test.ts) and the portable host's
 * (test/host/html-rewriter.node.test.ts) register the same cases.
 */
import { expect, it } from 'vitest'
import type { PageContent } from '../../workers/platform/html'

export type Extract = (
  html: string,
  options?: { maxTextChars?: number; maxLinks?: number; maxBytes?: number },
) => Promise<PageContent>

export function extractionCases(extract: Extract): void {
  it('reads title, headings, description, links and visible text', async () => {
    const page = await extract(`<!doctype html><html><head>
      <title> Fish &amp; Chips </title>
      <meta name="Description" content="Where to eat &quot;fish&quot;">
      <style>body { color: red }</style>
      <script>document.write("hidden")</script></head>
      <body><h1>Best <em>fish</em></h1><p>Crispy&nbsp;batter, mushy peas.</p>
      <h2>Places</h2><ul><li>One</li><li>Two</li></ul>
      <a href="/menu">Menu</a> <a href="other.html#x">Other</a> <a href="/ads" rel="sponsored nofollow">Ad</a>
      <a name="anchor-only">x</a><template><a href="/never">t</a>never shown</template><noscript>enable js</noscript>
      </body></html>`)
    expect(page.title).toBe('Fish & Chips')
    expect(page.description).toBe('Where to eat "fish"')
    expect(page.headings).toEqual(['Best fish', 'Places'])
    expect(page.links).toEqual(['/menu', 'other.html#x'])
    expect(page.text).toBe('Best fish Crispy batter, mushy peas. Places One Two Menu Other Ad x')
    expect(page.nofollow).toBe(false)
    expect(page.noindex).toBe(false)
  })

  it('honours meta robots and bounds text and links', async () => {
    const links = Array.from({ length: 50 }, (_, i) => `<a href="/p${i}">p${i}</a>`).join('')
    const page = await extract(
      `<meta name="robots" content="noindex, nofollow"><p>${'word '.repeat(1000)}</p>${links}`,
      { maxTextChars: 100, maxLinks: 10 },
    )
    expect(page.noindex).toBe(true)
    expect(page.nofollow).toBe(true)
    expect(page.links).toHaveLength(10)
    expect(page.text.length).toBeLessThanOrEqual(100)
  })

  it('stops reading a page over maxBytes and keeps what it read', async () => {
    const page = await extract(
      `<title>Big</title><a href="/first">f</a>${'<p>filler text</p>'.repeat(20_000)}<a href="/last">l</a>`,
      { maxBytes: 64 * 1024 },
    )
    expect(page.title).toBe('Big')
    expect(page.links).toEqual(['/first'])
  })
}

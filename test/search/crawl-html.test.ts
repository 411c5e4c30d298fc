/** The HTML port's HTMLRewriter implementation, in workerd: fields, links and text of a page. */
import { describe, expect, it } from 'vitest'
import { rewriterExtractor } from '../../workers/platform/html'

const extract = (html: string, options?: { maxTextChars?: number; maxLinks?: number; maxBytes?: number }) =>
  rewriterExtractor.extract(new Response(html, { headers: { 'content-type': 'text/html' } }), options)

describe('HTML extraction through HTMLRewriter', () => {
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
      {
        maxBytes: 64 * 1024,
      },
    )
    expect(page.title).toBe('Big')
    expect(page.links).toEqual(['/first'])
  })

  it('joins text split across chunks without breaking words', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        const encoder = new TextEncoder()
        for (const part of ['<p>inter', 'nationali', 'sation</p><p>next</p>'])
          controller.enqueue(encoder.encode(part))
        controller.close()
      },
    })
    const page = await rewriterExtractor.extract(
      new Response(stream, { headers: { 'content-type': 'text/html' } }),
    )
    expect(page.text).toBe('internationalisation next')
  })
})

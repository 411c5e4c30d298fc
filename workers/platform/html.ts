/**
 * The HTML port: a page's text, links, title, headings and meta description, read in one
 * streaming pass. `HtmlExtractor` is the interface the blocks use; `rewriterExtractor` is
 * the workerd implementation over `HTMLRewriter` (outside the portable Durable Object
 * subset, so it runs on the Worker side). Script, style and template text is skipped;
 * the text is bounded by `maxTextChars` and reading stops after `maxBytes` (what was read
 * so far counts). Cost: one pass over the body, streamed, no DOM and no buffered copy.
 */
export interface PageContent {
  title: string
  headings: string[]
  description: string
  text: string
  /** `href`s as written (resolve them against the page URL). */
  links: string[]
  /** `<meta name="robots">` said nofollow / noindex. */
  nofollow: boolean
  noindex: boolean
}

export interface HtmlExtractor {
  extract(
    response: Response,
    options?: { maxTextChars?: number; maxLinks?: number; maxBytes?: number },
  ): Promise<PageContent>
}

const SKIPPED = 'script, style, noscript, template'
const HEADINGS = 'h1, h2, h3, h4, h5, h6'

export const rewriterExtractor: HtmlExtractor = {
  async extract(response, { maxTextChars = 100_000, maxLinks = 1000, maxBytes = 5 * 1024 * 1024 } = {}) {
    const page: PageContent = {
      title: '',
      headings: [],
      description: '',
      text: '',
      links: [],
      nofollow: false,
      noindex: false,
    }
    let skipping = 0
    let inTitle = false
    let heading: string | undefined
    const text: string[] = []
    let textLength = 0
    const rewriter = new HTMLRewriter()
      .on('*', {
        // Element boundaries separate words; text chunks inside one text node do not.
        element() {
          if (skipping === 0) text.push(' ')
        },
      })
      .on(SKIPPED, {
        element(element) {
          skipping++
          element.onEndTag(() => {
            skipping--
          })
        },
      })
      .on('title', {
        element(element) {
          inTitle = true
          element.onEndTag(() => {
            inTitle = false
          })
        },
      })
      .on(HEADINGS, {
        element(element) {
          heading = ''
          element.onEndTag(() => {
            const value = (heading ?? '').replace(/\s+/g, ' ').trim()
            if (value && page.headings.length < 100) page.headings.push(value)
            heading = undefined
          })
        },
      })
      .on('a[href]', {
        element(element) {
          if (skipping > 0) return
          const href = element.getAttribute('href')
          const rel = element.getAttribute('rel') ?? ''
          if (href && !/\bnofollow\b/i.test(rel) && page.links.length < maxLinks) page.links.push(href)
        },
      })
      .on('meta', {
        element(element) {
          const name = (element.getAttribute('name') ?? '').toLowerCase()
          const content = element.getAttribute('content') ?? ''
          if (name === 'description') page.description = content.trim().slice(0, 1000)
          if (name === 'robots') {
            page.nofollow ||= /\bnofollow\b/i.test(content)
            page.noindex ||= /\bnoindex\b/i.test(content)
          }
        },
      })
      .onDocument({
        text(chunk) {
          if (skipping > 0) return
          if (inTitle) page.title += chunk.text
          else {
            if (heading !== undefined) heading += chunk.text
            if (textLength < maxTextChars) {
              text.push(chunk.text)
              textLength += chunk.text.length
            }
          }
        },
      })
    // Drain the rewritten stream without keeping it; stop reading after `maxBytes`.
    let bytes = 0
    await rewriter
      .transform(response)
      .body?.pipeTo(
        new WritableStream({
          write(chunk: Uint8Array, controller) {
            bytes += chunk.byteLength
            if (bytes > maxBytes) controller.error(new Error('page too large'))
          },
        }),
      )
      .catch((error: unknown) => {
        if (bytes <= maxBytes) throw error
      })
    page.title = decodeEntities(page.title).replace(/\s+/g, ' ').trim().slice(0, 1000)
    page.headings = page.headings.map(decodeEntities)
    page.description = decodeEntities(page.description)
    page.text = decodeEntities(text.join('')).replace(/\s+/g, ' ').trim().slice(0, maxTextChars)
    return page
  },
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ' }

/** Text chunks arrive with entities as written; decode the common named and numeric ones. */
function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
    if (name[0] === '#') {
      const code =
        name[1] === 'x' || name[1] === 'X' ? Number.parseInt(name.slice(2), 16) : Number(name.slice(1))
      return Number.isFinite(code) && code <= 0x10ffff ? String.fromCodePoint(code) : whole
    }
    return ENTITIES[name.toLowerCase()] ?? whole
  })
}

/**
 * The host's HTMLRewriter: the HTML port's extractor (workers/platform/html.ts) gives the
 * same fields on the host as test/search/crawl-html.test.ts expects from workerd's, and the
 * selectors, end tags and text chunks behave as the Workers API documents.
 */
import { describe, expect, it } from 'vitest'
import { HostHTMLRewriter } from '../../apps/host/html-rewriter'
import { compileSelector } from '../../apps/host/html-selectors'
import { extractionCases } from '../support/html-extraction-cases'

;(globalThis as Record<string, unknown>).HTMLRewriter ??= HostHTMLRewriter
const { rewriterExtractor } = await import('../../workers/platform/html')

const extract = (html: string, options?: { maxTextChars?: number; maxLinks?: number; maxBytes?: number }) =>
  rewriterExtractor.extract(new Response(html, { headers: { 'content-type': 'text/html' } }), options)

function streamOf(parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      const encoder = new TextEncoder()
      for (const part of parts) controller.enqueue(encoder.encode(part))
      controller.close()
    },
  })
}

describe('the HTML port over the host HTMLRewriter', () => {
  extractionCases(extract)

  it('joins text and tags split across chunks', async () => {
    const page = await rewriterExtractor.extract(
      new Response(
        streamOf(['<p>inter', 'nationali', 'sation</p><a hr', 'ef="/x">y</a><scr', 'ipt>a<b</scr', 'ipt>z']),
      ),
    )
    expect(page.text).toBe('internationalisation y z')
    expect(page.links).toEqual(['/x'])
  })
})

describe('HostHTMLRewriter', () => {
  it('passes the body through unchanged and calls handlers in document order', async () => {
    const seen: string[] = []
    const html =
      '<div id="a" class="x y"><p>one <b>two</b></p><!-- note --><img src="i.png"><p>three</p></div>'
    const response = new HostHTMLRewriter()
      .on('div#a > p', {
        element(element) {
          seen.push(`p@${element.getAttribute('class') ?? ''}`)
          element.onEndTag((end) => seen.push(`/${end.name}`))
        },
      })
      .on('.y b, img[src$=".png"]', { element: (element) => seen.push(element.tagName) })
      .on('div', { comments: (comment) => seen.push(`!${comment.text.trim()}`) })
      .transform(new Response(html))
    expect(await response.text()).toBe(html)
    expect(seen).toEqual(['p@', 'b', '/p', '!note', 'img', 'p@', '/p'])
  })

  it('ends each text node with an empty last chunk and keeps entities as written', async () => {
    const chunks: [string, boolean][] = []
    await new HostHTMLRewriter()
      .onDocument({ text: (chunk) => void chunks.push([chunk.text, chunk.lastInTextNode]) })
      .transform(new Response(streamOf(['a &amp; ', 'b<br>c'])))
      .text()
    expect(chunks).toEqual([
      ['a &amp; ', false],
      ['b', false],
      ['', true],
      ['c', false],
      ['', true],
    ])
  })

  it('refuses selectors it cannot run and content mutations', async () => {
    expect(() => compileSelector('p:first-child')).toThrow(TypeError)
    expect(() => compileSelector('a + b')).toThrow(TypeError)
    expect(() => compileSelector('a,')).toThrow(TypeError)
    let failure: unknown
    await new HostHTMLRewriter()
      .on('p', {
        element(element) {
          try {
            element.setAttribute('x', 'y')
          } catch (error) {
            failure = error
          }
        },
      })
      .transform(new Response('<p>x</p>'))
      .text()
    expect(failure).toBeInstanceOf(TypeError)
  })

  it('matches attribute operators, descendants and case-insensitive values', () => {
    const element = (tagName: string, attributes: Record<string, string>) => ({
      tagName,
      attributes: new Map(Object.entries(attributes)),
    })
    const ul = element('ul', { lang: 'en-GB' })
    const li = element('li', { class: 'item first', 'data-x': 'Hello' })
    const a = element('a', { href: 'https://example.com/page' })
    expect(compileSelector('ul a')(a, [ul, li])).toBe(true)
    expect(compileSelector('ul > a')(a, [ul, li])).toBe(false)
    expect(compileSelector('li > a[href^="https:"]')(a, [ul, li])).toBe(true)
    expect(compileSelector('[lang|=en]')(ul, [])).toBe(true)
    expect(compileSelector('li[data-x="hello" i]')(li, [ul])).toBe(true)
    expect(compileSelector('li[data-x="hello"]')(li, [ul])).toBe(false)
    expect(compileSelector('li.first.item')(li, [ul])).toBe(true)
    expect(compileSelector('[href*="example"]')(a, [])).toBe(true)
    expect(compileSelector('*')(a, [])).toBe(true)
  })
})

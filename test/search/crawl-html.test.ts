/** The HTML port's HTMLRewriter implementation, in workerd: fields, links and text of a page. */
import { describe, expect, it } from 'vitest'
import { rewriterExtractor } from '../../workers/platform/html'
import { extractionCases } from '../support/html-extraction-cases'

const extract = (html: string, options?: { maxTextChars?: number; maxLinks?: number; maxBytes?: number }) =>
  rewriterExtractor.extract(new Response(html, { headers: { 'content-type': 'text/html' } }), options)

describe('HTML extraction through HTMLRewriter', () => {
  extractionCases(extract)

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

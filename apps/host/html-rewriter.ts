/**
 * `HTMLRewriter` for the portable host, as a streaming reader: the Workers API
 * (`on(selector, handlers)`, `onDocument(handlers)`, `transform(response)`) with element
 * handlers (`tagName`, `getAttribute`, `hasAttribute`, `attributes`, `onEndTag`), text
 * chunks (`text`, `lastInTextNode`, as written: entities are not decoded, as in workerd),
 * comments and the document end. The response body passes through unchanged: content
 * mutations (`setAttribute`, `append`, `remove`, …) throw, since the blocks use the
 * rewriter only to read pages (workers/platform/html.ts).
 *
 * Parsing follows the HTML tokenizer's main states: tags with quoted or bare attributes,
 * comments, doctypes, raw-text elements (`script`, `style`, `textarea`, `title`, …) whose
 * content is text up to their end tag, and void elements that have no end tag. An end tag
 * closes the nearest open element of its name (and those opened inside it). Selectors:
 * `*`, type, `#id`, `.class`, `[attr]`, `[attr=v]`, `[attr~=v]`, `[attr^=v]`, `[attr$=v]`,
 * `[attr*=v]`, descendant and child (`>`) combinators, comma lists.
 * Cost: one pass over the body, streamed in slices of 16 KiB; memory is the open-element
 * stack plus one unfinished token.
 */
import { compileSelector, type Selector } from './html-selectors'

const VOID = new Set('area base br col embed hr img input keygen link meta param source track wbr'.split(' '))
const RAW_TEXT = new Set(
  'script style textarea title xmp iframe noembed noframes noscript plaintext'.split(' '),
)

export interface OpenElement {
  tagName: string
  attributes: Map<string, string>
  endHandlers: ((end: { name: string }) => unknown)[]
  textHandlers: TextHandler[]
}

type TextHandler = (chunk: { text: string; lastInTextNode: boolean; removed: boolean }) => unknown
type ElementHandler = (element: ReturnType<typeof elementView>) => unknown

interface Handlers {
  element?: ElementHandler
  text?: TextHandler
  comments?: (comment: { text: string; removed: boolean }) => unknown
}

interface DocumentHandlers {
  text?: TextHandler
  comments?: (comment: { text: string; removed: boolean }) => unknown
  end?: (end: unknown) => unknown
}

function readOnly(name: string): never {
  throw new TypeError(`HTMLRewriter on this host reads documents; ${name}() is not supported`)
}

function elementView(element: OpenElement) {
  const mutation =
    (name: string) =>
    (..._args: unknown[]): never =>
      readOnly(name)
  return {
    tagName: element.tagName,
    namespaceURI: 'http://www.w3.org/1999/xhtml',
    removed: false,
    canHaveContent: !VOID.has(element.tagName),
    get attributes() {
      return element.attributes.entries()
    },
    getAttribute: (name: string) => element.attributes.get(name.toLowerCase()) ?? null,
    hasAttribute: (name: string) => element.attributes.has(name.toLowerCase()),
    onEndTag(handler: (end: { name: string }) => unknown) {
      if (VOID.has(element.tagName)) throw new TypeError('No end tag.')
      element.endHandlers.push(handler)
    },
    setAttribute: mutation('setAttribute'),
    removeAttribute: mutation('removeAttribute'),
    before: mutation('before'),
    after: mutation('after'),
    prepend: mutation('prepend'),
    append: mutation('append'),
    replace: mutation('replace'),
    setInnerContent: mutation('setInnerContent'),
    remove: mutation('remove'),
    removeAndKeepContent: mutation('removeAndKeepContent'),
  }
}

const ATTRIBUTE = /([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]*)))?/g

function parseAttributes(source: string): Map<string, string> {
  const attributes = new Map<string, string>()
  for (const match of source.matchAll(ATTRIBUTE)) {
    const name = (match[1] ?? '').toLowerCase()
    if (name && !attributes.has(name)) attributes.set(name, match[2] ?? match[3] ?? match[4] ?? '')
  }
  return attributes
}

/** Where the tag starting at `start` ends (the index after `>`), honouring quoted attribute values; -1 if not yet. */
function tagEnd(buffer: string, start: number): number {
  let quote = ''
  let afterEquals = false
  for (let i = start; i < buffer.length; i++) {
    const c = buffer[i] ?? ''
    if (quote) {
      if (c === quote) quote = ''
    } else if (c === '>') return i + 1
    else if (c === '=') afterEquals = true
    else if (afterEquals && (c === '"' || c === "'")) {
      quote = c
      afterEquals = false
    } else if (!/\s/.test(c)) afterEquals = false
  }
  return -1
}

export class HostHTMLRewriter {
  private readonly rules: { selector: Selector; handlers: Handlers }[] = []
  private readonly documents: DocumentHandlers[] = []

  on(selector: string, handlers: Handlers): this {
    this.rules.push({ selector: compileSelector(selector), handlers })
    return this
  }

  onDocument(handlers: DocumentHandlers): this {
    this.documents.push(handlers)
    return this
  }

  transform(response: Response): Response {
    if (!response.body) return response
    const parser = new StreamParser(this.rules, this.documents)
    const decoder = new TextDecoder()
    const reader = response.body.getReader()
    const queue: Uint8Array[] = []
    // Pulled one slice at a time: handlers run no further ahead of the reader than one
    // slice, so a reader that stops (a size cap) stops the parsing there, as in workerd.
    const body = new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          while (queue.length === 0) {
            const { done, value } = await reader.read()
            if (done) {
              await parser.end(decoder.decode())
              controller.close()
              return
            }
            for (let at = 0; at < value.byteLength; at += SLICE_BYTES)
              queue.push(value.subarray(at, at + SLICE_BYTES))
          }
          const slice = queue.shift() as Uint8Array
          await parser.write(decoder.decode(slice, { stream: true }))
          controller.enqueue(slice)
        },
        cancel(reason) {
          return reader.cancel(reason)
        },
      },
      { highWaterMark: 0 },
    )
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }
}

/** The largest piece of input parsed before its bytes are handed on. */
const SLICE_BYTES = 16 * 1024

class StreamParser {
  private buffer = ''
  private readonly stack: OpenElement[] = []
  private rawText: string | undefined
  private pendingText = ''

  constructor(
    private readonly rules: { selector: Selector; handlers: Handlers }[],
    private readonly documents: DocumentHandlers[],
  ) {}

  async write(text: string): Promise<void> {
    this.buffer += text
    await this.drain(false)
  }

  async end(text: string): Promise<void> {
    this.buffer += text
    await this.drain(true)
    if (this.buffer) await this.text(this.buffer)
    this.buffer = ''
    await this.flushText()
    while (this.stack.length > 0) await this.close(this.stack.length - 1)
    for (const handlers of this.documents) await handlers.end?.({ append: () => readOnly('append') })
  }

  private async drain(final: boolean): Promise<void> {
    while (this.buffer.length > 0) {
      if (this.rawText !== undefined) {
        const closing = this.buffer.toLowerCase().indexOf(`</${this.rawText}`)
        if (closing < 0) {
          // Keep a tail that could be the start of the end tag.
          const keep = final ? 0 : this.rawText.length + 2
          const cut = Math.max(0, this.buffer.length - keep)
          await this.text(this.buffer.slice(0, cut))
          this.buffer = this.buffer.slice(cut)
          return
        }
        await this.text(this.buffer.slice(0, closing))
        this.buffer = this.buffer.slice(closing)
        this.rawText = undefined
      }
      const open = this.buffer.indexOf('<')
      if (open < 0) {
        await this.text(this.buffer)
        this.buffer = ''
        return
      }
      if (open > 0) {
        await this.text(this.buffer.slice(0, open))
        this.buffer = this.buffer.slice(open)
      }
      const consumed = await this.markup(final)
      if (consumed === 0) return
      this.buffer = this.buffer.slice(consumed)
    }
  }

  /** Handles the markup at the start of the buffer; returns the characters consumed (0: need more input). */
  private async markup(final: boolean): Promise<number> {
    const buffer = this.buffer
    if (buffer.startsWith('<!--')) {
      const close = buffer.indexOf('-->', 4)
      if (close < 0) return final ? buffer.length : 0
      await this.flushText()
      await this.comment(buffer.slice(4, close))
      return close + 3
    }
    if (buffer.length < 2) return final ? this.literal(buffer) : 0
    const second = buffer[1] ?? ''
    if (second === '!' || second === '?') {
      if (!final && buffer.length < 4 && '<!--'.startsWith(buffer)) return 0
      const close = buffer.indexOf('>')
      if (close < 0) return final ? buffer.length : 0
      return close + 1
    }
    const isEnd = second === '/'
    if (!/[a-z]/i.test(isEnd ? (buffer[2] ?? (final ? '' : 'a')) : second)) return this.literal('<')
    const end = tagEnd(buffer, 1)
    if (end < 0) return final ? buffer.length : 0
    const inner = buffer.slice(isEnd ? 2 : 1, end - 1)
    const name = (/^[^\s/>]+/.exec(inner)?.[0] ?? '').toLowerCase()
    await this.flushText()
    if (isEnd) await this.endTag(name)
    else await this.startTag(name, inner.slice(name.length), /\/\s*$/.test(inner))
    return end
  }

  private async literal(text: string): Promise<number> {
    await this.text(text)
    return text.length
  }

  private async startTag(tagName: string, rest: string, selfClosing: boolean): Promise<void> {
    const element: OpenElement = {
      tagName,
      attributes: parseAttributes(rest.replace(/\/\s*$/, '')),
      endHandlers: [],
      textHandlers: [],
    }
    const matched = this.rules.filter((rule) => rule.selector(element, this.stack))
    const view = elementView(element)
    for (const rule of matched) {
      if (rule.handlers.text) element.textHandlers.push(rule.handlers.text)
      await rule.handlers.element?.(view)
    }
    if (VOID.has(tagName) || selfClosing) return
    this.stack.push(element)
    if (RAW_TEXT.has(tagName)) this.rawText = tagName
  }

  private async endTag(name: string): Promise<void> {
    for (let i = this.stack.length - 1; i >= 0; i--) {
      if (this.stack[i]?.tagName !== name) continue
      while (this.stack.length > i) await this.close(this.stack.length - 1)
      return
    }
  }

  private async close(index: number): Promise<void> {
    const [element] = this.stack.splice(index, 1)
    for (const handler of element?.endHandlers ?? []) await handler({ name: element?.tagName ?? '' })
  }

  /** Text arrives in chunks; a text node ends at the next markup, with a final empty chunk as in workerd. */
  private async text(text: string): Promise<void> {
    if (!text) return
    this.pendingText += text
    await this.emitText(text, false)
  }

  private async flushText(): Promise<void> {
    if (!this.pendingText) return
    this.pendingText = ''
    await this.emitText('', true)
  }

  private async emitText(text: string, last: boolean): Promise<void> {
    const chunk = { text, lastInTextNode: last, removed: false }
    for (const handlers of this.documents) await handlers.text?.(chunk)
    for (const element of this.stack) for (const handler of element.textHandlers) await handler(chunk)
  }

  private async comment(text: string): Promise<void> {
    const comment = { text, removed: false }
    for (const handlers of this.documents) await handlers.comments?.(comment)
    const top = this.stack.at(-1)
    if (!top) return
    for (const rule of this.rules)
      if (rule.selector(top, this.stack.slice(0, -1))) await rule.handlers.comments?.(comment)
  }
}

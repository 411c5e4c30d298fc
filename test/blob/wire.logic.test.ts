/** S3's XML, preconditions and ranges, and multipart assembly, as pure functions. */
import { describe, expect, it } from 'vitest'
import { checkPreconditions, parseRange } from '../../workers/blob/conditions'
import { assemble } from '../../workers/blob/multipart'
import type { S3Error } from '../../workers/blob/s3-errors'
import { childrenNamed, el, parseXml, textOf, xmlDocument } from '../../workers/blob/xml'

const codeOf = (fn: () => unknown) => {
  try {
    fn()
    return 'ok'
  } catch (error) {
    return (error as S3Error).code
  }
}

describe('XML', () => {
  it('escapes what it builds and parses what clients send', () => {
    const doc = xmlDocument(el('Delete', el('Object', el('Key', 'a<b>&"c"')), el('Quiet', true)))
    expect(doc).toContain('<Key>a&lt;b&gt;&amp;&quot;c&quot;</Key>')
    const parsed = parseXml(doc)
    expect(parsed?.name).toBe('Delete')
    expect(textOf(childrenNamed(parsed, 'Object')[0], 'Key')).toBe('a<b>&"c"')
    expect(textOf(parsed, 'Quiet')).toBe('true')
    expect(parseXml('<a><b></a>')).toBeUndefined()
    expect(parseXml('<!DOCTYPE x [<!ENTITY e "boom">]><a>&e;</a>')).toBeUndefined()
    expect(textOf(parseXml('<a><![CDATA[<raw>]]></a>'), 'x')).toBeUndefined()
    expect(parseXml('<a><![CDATA[<raw>]]></a>')?.text).toBe('<raw>')
  })
})

describe('preconditions and ranges', () => {
  const object = { etag: '"abc"', lastModified: Date.parse('2026-01-02T00:00:00Z') }
  it('follows S3 precedence: 412 for failed writes and If-Match, 304 for reads', () => {
    expect(codeOf(() => checkPreconditions({ ifMatch: '"abc"' }, object, true))).toBe('ok')
    expect(codeOf(() => checkPreconditions({ ifMatch: '"x"' }, object, true))).toBe('PreconditionFailed')
    expect(codeOf(() => checkPreconditions({ ifNoneMatch: '"abc"' }, object, true))).toBe('NotModified')
    expect(codeOf(() => checkPreconditions({ ifNoneMatch: '*' }, object, false))).toBe('PreconditionFailed')
    expect(
      codeOf(() => checkPreconditions({ ifModifiedSince: 'Sat, 03 Jan 2026 00:00:00 GMT' }, object, true)),
    ).toBe('NotModified')
    expect(
      codeOf(() => checkPreconditions({ ifUnmodifiedSince: 'Thu, 01 Jan 2026 00:00:00 GMT' }, object, true)),
    ).toBe('PreconditionFailed')
    // If-Match holding overrides a failing If-Unmodified-Since.
    expect(
      codeOf(() =>
        checkPreconditions(
          { ifMatch: '"abc"', ifUnmodifiedSince: 'Thu, 01 Jan 2026 00:00:00 GMT' },
          object,
          true,
        ),
      ),
    ).toBe('ok')
  })

  it('parses single byte ranges and refuses unsatisfiable ones', () => {
    expect(parseRange('bytes=0-9', 100)).toEqual({ start: 0, end: 9 })
    expect(parseRange('bytes=90-', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=-10', 100)).toEqual({ start: 90, end: 99 })
    expect(parseRange('bytes=50-1000', 100)).toEqual({ start: 50, end: 99 })
    expect(parseRange('bytes=0-1,5-6', 100)).toBeUndefined()
    expect(codeOf(() => parseRange('bytes=100-', 100))).toBe('InvalidRange')
  })
})

describe('multipart assembly', () => {
  const md5 = (n: number) => n.toString(16).padStart(32, '0')
  const part = (partNumber: number, size: number) => ({
    partNumber,
    hash: `h${partNumber}`,
    size,
    etag: `"${md5(partNumber)}"`,
    checksum: null,
    lastModified: 0,
    holder: null,
  })
  it('checks order, ETags and sizes, and computes the multipart ETag', () => {
    const stored = [part(1, 10), part(2, 10), part(3, 3)]
    const chosen = stored.map((p) => ({ partNumber: p.partNumber, etag: p.etag }))
    const assembled = assemble(stored, chosen, 10)
    expect(assembled.size).toBe(23)
    expect(assembled.etag).toMatch(/^"[0-9a-f]{32}-3"$/)
    expect(codeOf(() => assemble(stored, [...chosen].reverse(), 10))).toBe('InvalidPartOrder')
    expect(codeOf(() => assemble(stored, [{ partNumber: 1, etag: '"nope"' }], 10))).toBe('InvalidPart')
    expect(codeOf(() => assemble(stored, chosen, 11))).toBe('EntityTooSmall')
  })
})

// Range requests from the cache: 206 slices of a 100 MiB object byte for byte, multipart/byteranges, If-Range, 416.
import { describe, expect, it } from 'vitest'
import { cacheStatusOf, cdnClient } from './support'

const MiB = 1024 * 1024
const TOTAL = 100 * MiB
const patternByte = (i: number) => (i * 31 + 7) & 0xff

function expectPattern(bytes: Uint8Array, offset: number) {
  let mismatches = 0
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== patternByte(offset + i)) mismatches++
  expect(mismatches).toBe(0)
}

describe('ranges', () => {
  it('stores a 100 MiB object once and answers ranges from it byte for byte', async () => {
    const cdn = await cdnClient({ cacheEverything: true })
    const path = `/bytes/${TOTAL}`
    const first = await cdn.get(path, { headers: { range: 'bytes=0-99' } })
    expect(first.status).toBe(206)
    expect(cacheStatusOf(first)).toMatchObject({ stored: true })
    expectPattern(new Uint8Array(await first.arrayBuffer()), 0)
    for (const [start, end] of [
      [50 * MiB, 50 * MiB + 65_535],
      [TOTAL - 10, TOTAL - 1],
      [12_345, 12_345 + 3 * MiB],
    ] as const) {
      const response = await cdn.get(path, { headers: { range: `bytes=${start}-${end}` } })
      expect(response.status).toBe(206)
      expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/${TOTAL}`)
      const bytes = new Uint8Array(await response.arrayBuffer())
      expect(bytes.length).toBe(end - start + 1)
      expectPattern(bytes, start)
    }
    const suffix = await cdn.get(path, { headers: { range: 'bytes=-16' } })
    expectPattern(new Uint8Array(await suffix.arrayBuffer()), TOTAL - 16)
    expect(await cdn.originCount(path)).toBe(1)
  })

  it('answers several ranges as multipart/byteranges, an unsatisfiable one with 416, a failed If-Range with the whole object', async () => {
    const cdn = await cdnClient({ cacheEverything: true })
    const path = '/bytes/1000?etag=%22e1%22'
    await (await cdn.get(path)).arrayBuffer()
    const multi = await cdn.get(path, { headers: { range: 'bytes=0-9, 500-509' } })
    expect(multi.status).toBe(206)
    const type = multi.headers.get('content-type') ?? ''
    expect(type).toMatch(/^multipart\/byteranges; boundary=/)
    const boundary = type.split('boundary=')[1] as string
    // One char per byte (TextDecoder's latin1 is windows-1252, which remaps 0x80-0x9f).
    const text = String.fromCharCode(...new Uint8Array(await multi.arrayBuffer()))
    const bytesAt = (start: number, end: number) =>
      String.fromCharCode(...Array.from({ length: end - start + 1 }, (_, i) => patternByte(start + i)))
    const part = (start: number, end: number) =>
      `--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${start}-${end}/1000\r\n\r\n${bytesAt(start, end)}\r\n`
    expect(text).toBe(`\r\n${part(0, 9)}${part(500, 509)}--${boundary}--\r\n`)
    const unsatisfiable = await cdn.get(path, { headers: { range: 'bytes=5000-6000' } })
    expect(unsatisfiable.status).toBe(416)
    expect(unsatisfiable.headers.get('content-range')).toBe('bytes */1000')
    const matching = await cdn.get(path, { headers: { range: 'bytes=0-9', 'if-range': '"e1"' } })
    expect(matching.status).toBe(206)
    await matching.arrayBuffer()
    const changed = await cdn.get(path, { headers: { range: 'bytes=0-9', 'if-range': '"e0"' } })
    expect(changed.status).toBe(200)
    expect((await changed.arrayBuffer()).byteLength).toBe(1000)
    expect(await cdn.originCount('/bytes/1000')).toBe(1)
  })

  it('checks If-Range against the stored Last-Modified date: equal → 206, other → 200 whole', async () => {
    const cdn = await cdnClient({ cacheEverything: true })
    const lm = new Date(Math.floor(Date.now() / 1000) * 1000 - 86_400_000).toUTCString()
    const path = `/bytes/500?lm=${encodeURIComponent(lm)}`
    await (await cdn.get(path)).arrayBuffer()
    const same = await cdn.get(path, { headers: { range: 'bytes=10-19', 'if-range': lm } })
    expect(same.status).toBe(206)
    expectPattern(new Uint8Array(await same.arrayBuffer()), 10)
    const older = new Date(Date.parse(lm) - 1000).toUTCString()
    const other = await cdn.get(path, { headers: { range: 'bytes=10-19', 'if-range': older } })
    expect(other.status).toBe(200)
    expectPattern(new Uint8Array(await other.arrayBuffer()), 0)
    expect(await cdn.originCount('/bytes/500')).toBe(1)
  })
})

// Sliced fetching: what the origin saw (slice-sized ranges only, each slice once), what clients got (byte for byte), version changes, purges.
import { env } from 'cloudflare:test'
import { describe, expect, it, vi } from 'vitest'
import { cacheStatusOf, cdnClient, q } from './support'

const KiB = 1024
const MiB = 1024 * KiB
const patternByte = (i: number) => (i * 31 + 7) & 0xff
/** The pattern has a period of 256 bytes: byte i of a chunk at offset o is PERIODIC[(o % 256) + i]. */
const PERIODIC = Uint8Array.from({ length: 4 * MiB + 256 }, (_, i) => patternByte(i))

/** Reads a body chunk by chunk (memory flat), counting bytes and those that differ from the pattern at `offset` (inverted for version 2). */
async function check(body: ReadableStream<Uint8Array> | null, offset: number, inverted = false) {
  let length = 0
  let mismatches = 0
  const reader = (body as ReadableStream<Uint8Array>).getReader()
  for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
    const base = (offset + length) % 256
    const flip = inverted ? 0xff : 0
    for (let i = 0; i < chunk.value.length; i++) {
      if (chunk.value[i] !== ((PERIODIC[base + (i % (4 * MiB))] as number) ^ flip)) mismatches++
    }
    length += chunk.value.length
  }
  return { length, mismatches }
}

const sliceHeader = (index: number, slice: number) => `bytes=${index * slice}-${(index + 1) * slice - 1}`

async function storedUnder(prefix: string): Promise<string[]> {
  const listed = await (env.BLOBS as R2Bucket).list({ prefix })
  return listed.objects.map((o) => o.key)
}

describe('sliced fetching', () => {
  it('serves a cold 100 MiB object whole, byte for byte, from slice-sized origin ranges, each fetched once', async () => {
    const slice = 4 * MiB
    const cdn = await cdnClient({ cacheEverything: true, sliceBytes: slice })
    const total = 100 * MiB
    const path = `/bytes/${total}`
    const first = await cdn.get(path)
    expect(first.status).toBe(200)
    expect(first.headers.get('content-length')).toBe(String(total))
    expect(first.headers.get('content-range')).toBeNull()
    expect(cacheStatusOf(first)).toMatchObject({ fwd: 'uri-miss', stored: true })
    expect(await check(first.body, 0)).toEqual({ length: total, mismatches: 0 })
    const ranges = (await cdn.origin.stats()).ranges[path] ?? []
    expect(ranges).toEqual(Array.from({ length: 25 }, (_, i) => sliceHeader(i, slice)))
    const again = await cdn.get(path)
    expect(cacheStatusOf(again).hit).toBe(true)
    expect(await check(again.body, 0)).toEqual({ length: total, mismatches: 0 })
    expect(await cdn.originCount(path)).toBe(25)
  }, 300_000)

  it('fetches only the slices a cold range overlaps, then the rest when the whole object is asked for', async () => {
    const slice = 256 * KiB
    const cdn = await cdnClient({ cacheEverything: true, sliceBytes: slice })
    const total = 4 * MiB
    const path = `/bytes/${total}`
    const [start, end] = [5 * slice + 1000, 7 * slice + 10]
    const response = await cdn.get(path, { headers: { range: `bytes=${start}-${end}` } })
    expect(response.status).toBe(206)
    expect(response.headers.get('content-range')).toBe(`bytes ${start}-${end}/${total}`)
    expect(await check(response.body, start)).toEqual({ length: end - start + 1, mismatches: 0 })
    expect((await cdn.origin.stats()).ranges[path]).toEqual([5, 6, 7].map((i) => sliceHeader(i, slice)))
    const inside = await cdn.get(path, { headers: { range: `bytes=${6 * slice}-${6 * slice + 99}` } })
    expect(await check(inside.body, 6 * slice)).toEqual({ length: 100, mismatches: 0 })
    expect(await cdn.originCount(path)).toBe(3)
    const whole = await cdn.get(path)
    expect(await check(whole.body, 0)).toEqual({ length: total, mismatches: 0 })
    const seen = (await cdn.origin.stats()).ranges[path] ?? []
    expect(seen).toHaveLength(16)
    expect([...seen].sort()).toEqual(Array.from({ length: 16 }, (_, i) => sliceHeader(i, slice)).sort())
  })

  it('collapses concurrent requests per slice: 8 cold clients, each slice fetched once', async () => {
    const slice = 64 * KiB
    const cdn = await cdnClient({ cacheEverything: true, sliceBytes: slice })
    const total = MiB
    const path = `/bytes/${total}`
    const results = await Promise.all(
      Array.from({ length: 8 }, async () => check((await cdn.get(path)).body, 0)),
    )
    for (const result of results) expect(result).toEqual({ length: total, mismatches: 0 })
    expect(await cdn.originCount(path)).toBe(16)
  })

  it('stores an object no larger than one slice whole, answering a client range from it', async () => {
    const cdn = await cdnClient({ cacheEverything: true, sliceBytes: 64 * KiB })
    const path = '/bytes/1000'
    const response = await cdn.get(path, { headers: { range: 'bytes=10-19' } })
    expect(response.status).toBe(206)
    expect(await check(response.body, 10)).toEqual({ length: 10, mismatches: 0 })
    expect((await cdn.origin.stats()).ranges[path]).toEqual([sliceHeader(0, 64 * KiB)])
    const whole = await cdn.get(path)
    expect(whole.headers.get('content-length')).toBe('1000')
    expect(await check(whole.body, 0)).toEqual({ length: 1000, mismatches: 0 })
    expect(await cdn.originCount(path)).toBe(1)
  })

  it('refetches when the origin changes version between slices, never joining two versions', async () => {
    const slice = 64 * KiB
    const cdn = await cdnClient({ cacheEverything: true, sliceBytes: slice })
    const total = 512 * KiB
    // Version 1 for the first request to the path, version 2 (ETag "v2", bytes inverted) after.
    const path = `/bytes/${total}`
    const query = '?flip=1'
    const early = await cdn.get(`${path}${query}`, {
      headers: { range: `bytes=${2 * slice}-${2 * slice + 99}` },
    })
    expect(early.headers.get('etag')).toBe('"v1"')
    expect(await check(early.body, 2 * slice)).toEqual({ length: 100, mismatches: 0 })
    const later = await cdn.get(`${path}${query}`, {
      headers: { range: `bytes=${5 * slice}-${5 * slice + 99}` },
    })
    expect(later.status).toBe(206)
    expect(later.headers.get('etag')).toBe('"v2"')
    expect(await check(later.body, 5 * slice, true)).toEqual({ length: 100, mismatches: 0 })
    const whole = await cdn.get(`${path}${query}`)
    expect(whole.headers.get('etag')).toBe('"v2"')
    expect(await check(whole.body, 0, true)).toEqual({ length: total, mismatches: 0 })
    // slice 2 (v1), slice 5 (v2: the v1 variant is dropped), slice 5 again for the new fill, then the other 7.
    const seen = (await cdn.origin.stats()).ranges[path] ?? []
    expect(seen.slice(0, 3)).toEqual([sliceHeader(2, slice), sliceHeader(5, slice), sliceHeader(5, slice)])
    expect(seen).toHaveLength(10)
  })

  it('errors a whole response whose later slice turns out to be another version, rather than mixing bytes', async () => {
    const slice = 64 * KiB
    const cdn = await cdnClient({ cacheEverything: true, sliceBytes: slice })
    const total = 512 * KiB
    const url = `/bytes/${total}?flip=3`
    const response = await cdn.get(url)
    expect(response.status).toBe(200)
    await expect(response.arrayBuffer()).rejects.toThrow()
    const next = await cdn.get(url)
    expect(next.headers.get('etag')).toBe('"v2"')
    expect(await check(next.body, 0, true)).toEqual({ length: total, mismatches: 0 })
  })

  it('purges every slice by URL and by tag', async () => {
    const slice = 64 * KiB
    const cdn = await cdnClient({ cacheEverything: true, sliceBytes: slice })
    const total = 512 * KiB
    const prefix = `cdn/${cdn.tenant}/${cdn.site}/`
    const byUrl = `/bytes/${total}`
    const byTag = `/bytes/${total}${q({ 'cache-tag': 'video' })}`
    for (const path of [byUrl, byTag]) await check((await cdn.get(path)).body, 0)
    expect(await storedUnder(prefix)).toHaveLength(16)
    expect(await cdn.originCount(byUrl.split('?')[0] as string)).toBe(16)
    const purged = await cdn.purge({ urls: [`http://edge.test${byUrl}`], tags: ['video'] })
    expect(purged.status).toBe(200)
    const before = await storedUnder(prefix)
    for (const path of [byUrl, byTag]) {
      const response = await cdn.get(path)
      expect(cacheStatusOf(response).hit).toBeUndefined()
      expect(await check(response.body, 0)).toEqual({ length: total, mismatches: 0 })
    }
    expect(await cdn.originCount(`/bytes/${total}`)).toBe(32)
    await vi.waitFor(
      async () => {
        const now = await storedUnder(prefix)
        expect(now).toHaveLength(16)
        expect(now.filter((key) => before.includes(key))).toEqual([])
      },
      { timeout: 10_000 },
    )
  })
})

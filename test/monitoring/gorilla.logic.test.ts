import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeChunk, encodeChunk } from '../../workers/monitoring/gorilla'

/** The value's bits, every NaN as one (JavaScript does not keep NaN payloads). */
const canonical = (v: number) => {
  const d = new DataView(new ArrayBuffer(8))
  d.setFloat64(0, Number.isNaN(v) ? Number.NaN : v)
  return d.getBigUint64(0)
}

describe('Gorilla chunks', () => {
  it('round-trip exactly: timestamps and values (NaN, -0, ±Inf)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: -(2 ** 40), max: 2 ** 45 }), fc.double()), { maxLength: 300 }),
        (samples) => {
          const times = samples.map(([t]) => t)
          const values = samples.map(([, v]) => v)
          const out = decodeChunk(encodeChunk(times, values))
          expect(out.times).toEqual(times)
          expect(out.values.map(canonical)).toEqual(values.map(canonical))
        },
      ),
      { numRuns: 300 },
    )
  })

  it('stores realistic scrapes in under 2 bytes per sample', () => {
    // 15 s scrapes with ±50 ms jitter: a counter of requests, a gauge of memory, a latency.
    const times: number[] = []
    const t0 = 1_700_000_000_000
    for (let i = 0; i < 120; i++) times.push(t0 + i * 15_000 + ((i * 37) % 3 === 0 ? (i % 7) - 3 : 0))
    let counter = 1000
    const counters = times.map((_, i) => (counter += (i * 13) % 5))
    const gauges = times.map((_, i) => 512 * 1024 * 1024 + (i % 4 === 0 ? 4096 * (i % 3) : 0))
    const constant = times.map(() => 1)
    const sizes = [counters, gauges, constant].map(
      (values) => encodeChunk(times, values).length / times.length,
    )
    const mean = sizes.reduce((a, b) => a + b, 0) / sizes.length
    console.log(
      `bytes/sample: counter ${sizes[0]?.toFixed(2)}, gauge ${sizes[1]?.toFixed(2)}, constant ${sizes[2]?.toFixed(2)}`,
    )
    expect(mean).toBeLessThan(2)
  })
})

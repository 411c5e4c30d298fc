/** The remote-write decoder against bytes built by hand, as a Prometheus server sends them. */
import { describe, expect, it } from 'vitest'
import { decodeRemoteWrite, encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import { ProtoWriter } from '../../workers/platform/protobuf'
import { snappyCompress } from '../../workers/platform/snappy'

/** A WriteRequest with one series whose samples carry these raw IEEE-754 bits. */
function request(samples: Array<[bits: bigint, t: number]>): Uint8Array {
  const w = new ProtoWriter()
  w.message(1, (ts) => {
    ts.message(1, (l) => l.stringField(1, '__name__').stringField(2, 'up'))
    for (const [bits, t] of samples) ts.message(2, (m) => m.fixed64Field(1, bits).int64Field(2, BigInt(t)))
  })
  return snappyCompress(w.finish())
}

describe('remote-write decoding', () => {
  it("reads Prometheus's staleness marker (0x7ff0000000000002) as a marker, other NaNs as values", () => {
    const [series] = decodeRemoteWrite(
      request([
        [0x3ff0000000000000n, 1_000], // 1
        [0x7ff8000000000001n, 2_000], // a NaN with another payload: a value
        [0x7ff0000000000002n, 3_000], // value.StaleNaN
      ]),
      1 << 20,
    ).series
    expect(series?.labels).toEqual({ __name__: 'up' })
    expect(series?.times).toEqual([1_000, 2_000])
    expect(series?.values).toEqual([1, Number.NaN])
    expect(series?.stale).toEqual([3_000])
  })

  it('writes markers back as those bits', () => {
    const body = encodeRemoteWrite([
      { labels: { __name__: 'up' }, times: [1_000], values: [0], stale: [2_000] },
    ])
    expect(decodeRemoteWrite(body, 1 << 20).series).toEqual([
      { labels: { __name__: 'up' }, times: [1_000], values: [0], stale: [2_000] },
    ])
  })

  it('reads metric metadata (type, family name, help, unit), skipping entries without a valid name', () => {
    const metadata = [
      { metric: 'http_requests_total', type: 'counter' as const, help: 'Requests.', unit: '' },
      { metric: 'latency_seconds', type: 'histogram' as const, help: 'Latency.', unit: 'seconds' },
      { metric: 'bad name', type: 'gauge' as const, help: '', unit: '' },
    ]
    expect(decodeRemoteWrite(encodeRemoteWrite([], metadata), 1 << 20)).toEqual({
      series: [],
      metadata: metadata.slice(0, 2),
    })
  })
})

/** OTLP metrics → Prometheus series: names, labels, buckets, both wires decode alike. */
import { describe, expect, it } from 'vitest'
import { decodeOtlpMetricsJson } from '../../workers/monitoring/otlp/decode-json'
import { decodeOtlpMetricsProtobuf } from '../../workers/monitoring/otlp/decode-protobuf'
import {
  EXPONENTIAL_MAX_BUCKETS,
  exponentialBuckets,
  labelName,
  prometheusName,
  translateOtlp,
} from '../../workers/monitoring/otlp/translate'
import { ProtoWriter, WIRE } from '../../workers/platform/protobuf'
import { otlpJson, otlpProtobuf, T0_NS } from './otlp-payloads'

describe('OTLP names', () => {
  it('follows Prometheus’s OTLP translator for names and units', () => {
    const name = (n: string, unit: string, kind: 'gauge' | 'sum' | 'histogram', monotonic = false) =>
      prometheusName({ name: n, unit, kind, monotonic })
    expect(name('http.server.request.duration', 's', 'histogram')).toBe(
      'http_server_request_duration_seconds',
    )
    expect(name('http.server.requests', '{request}', 'sum', true)).toBe('http_server_requests_total')
    expect(name('system.memory.usage', 'By', 'gauge')).toBe('system_memory_usage_bytes')
    expect(name('cpu.utilization', '1', 'gauge')).toBe('cpu_utilization_ratio')
    expect(name('speed', 'm/s', 'gauge')).toBe('speed_meters_per_second')
    expect(name('requests_total', '', 'sum', true)).toBe('requests_total')
    expect(name('latency_seconds', 's', 'histogram')).toBe('latency_seconds')
    expect(name('queue..depth__now', '', 'gauge')).toBe('queue_depth_now')
    expect(name('2xx.responses', '', 'sum', false)).toBe('_2xx_responses')
    expect(labelName('http.route')).toBe('http_route')
    expect(labelName('0day')).toBe('key_0day')
    expect(labelName('_private')).toBe('key_private')
    expect(labelName('__reserved')).toBe('__reserved')
  })
})

describe('OTLP exponential histograms', () => {
  it('maps buckets to cumulative classic buckets at 2^(2^-scale·(i+1))', () => {
    const buckets = exponentialBuckets({
      attributes: [],
      timeNanos: 0n,
      flags: 0,
      scale: 0,
      zeroCount: 1,
      positive: { offset: 0, counts: [2, 3] },
      negative: { offset: 0, counts: [4] },
      count: 10,
    })
    expect(buckets).toEqual([
      [0, 5],
      [2, 7],
      [4, 10],
    ])
  })

  it('lowers the scale until at most EXPONENTIAL_MAX_BUCKETS remain, keeping every count', () => {
    const counts = Array.from({ length: 160 }, () => 1)
    const buckets = exponentialBuckets({
      attributes: [],
      timeNanos: 0n,
      flags: 0,
      scale: 3,
      positive: { offset: -7, counts },
    })
    expect(buckets.length - 1).toBeLessThanOrEqual(EXPONENTIAL_MAX_BUCKETS)
    expect(buckets.at(-1)?.[1]).toBe(160)
    // Bounds increase and every original upper bound 2^((offset+160)/8) is covered.
    for (let i = 1; i < buckets.length; i++)
      expect(buckets[i]?.[0] as number).toBeGreaterThan(buckets[i - 1]?.[0] as number)
    expect(buckets.at(-1)?.[0] as number).toBeGreaterThanOrEqual(2 ** ((-7 + 160) / 8))
  })
})

describe('OTLP translation', () => {
  it('decodes the JSON and protobuf forms of one export to the same series', () => {
    const now = 1_800_000_000_000
    const fromJson = translateOtlp(decodeOtlpMetricsJson(JSON.stringify(otlpJson())), now)
    const fromProto = translateOtlp(decodeOtlpMetricsProtobuf(otlpProtobuf()), now)
    expect(fromProto).toEqual(fromJson)
    expect(fromJson.rejected).toBe(0)
    const byName = (n: string) => fromJson.series.filter((s) => s.labels.__name__ === n)
    const t = Number(T0_NS / 1_000_000n)
    expect(byName('queue_depth')).toEqual([
      {
        labels: { __name__: 'queue_depth', job: 'shop/checkout', instance: 'i-1', queue: 'orders' },
        times: [t],
        values: [7],
      },
    ])
    expect(byName('http_requests_total')[0]?.values).toEqual([42])
    expect(byName('jobs_done_total')[0]?.delta).toBe(true)
    const buckets = byName('http_duration_seconds_bucket').map((s) => [s.labels.le, s.values[0]])
    expect(buckets).toEqual([
      ['0.1', 3],
      ['0.5', 8],
      ['+Inf', 10],
    ])
    expect(byName('http_duration_seconds_sum')[0]?.values).toEqual([2.5])
    expect(byName('http_duration_seconds_count')[0]?.values).toEqual([10])
    expect(byName('rpc_size_bytes_bucket').map((s) => [s.labels.le, s.values[0]])).toEqual([
      ['0', 1],
      ['2', 3],
      ['4', 6],
      ['+Inf', 6],
    ])
    expect(byName('target_info')).toEqual([
      {
        labels: {
          __name__: 'target_info',
          job: 'shop/checkout',
          instance: 'i-1',
          deployment_environment: 'prod',
        },
        times: [t],
        values: [1],
      },
    ])
  })

  it('rejects only the bad points (partial success); a gauge point without a recorded value is a staleness marker', () => {
    const body = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'bad',
                  histogram: {
                    aggregationTemporality: 2,
                    dataPoints: [{ bucketCounts: ['1', '2'], explicitBounds: [1, 2], count: '3' }],
                  },
                },
                { name: 'ok', gauge: { dataPoints: [{ asInt: '5' }, { asDouble: 1, flags: 1 }] } },
                { name: '', gauge: { dataPoints: [{ asInt: '1' }] } },
                {
                  name: 'wild',
                  exponentialHistogram: {
                    dataPoints: [{ scale: 90, positive: { offset: 1, bucketCounts: ['1'] } }],
                  },
                },
              ],
            },
          ],
        },
      ],
    }
    const out = translateOtlp(decodeOtlpMetricsJson(JSON.stringify(body)), 1000)
    expect(out.rejected).toBe(3)
    expect(out.reason).toMatch(/2 bucket counts for 2 bounds/)
    expect(out.series).toEqual([
      { labels: { __name__: 'ok' }, times: [1000], values: [5] },
      { labels: { __name__: 'ok' }, times: [], values: [], stale: [1000] },
    ])
  })

  it('reads unpacked repeated fields and refuses truncated protobuf', () => {
    const body = new ProtoWriter()
      .message(1, (rm) =>
        rm.message(2, (sm) =>
          sm.message(2, (m) =>
            m
              .stringField(1, 'h')
              .message(9, (h) =>
                h
                  .message(1, (p) =>
                    p
                      .fixed64Field(6, 1n)
                      .fixed64Field(6, 2n)
                      .doubleField(7, 1)
                      .fixed64Field(4, 3n)
                      .fixed64Field(3, 5_000_000n),
                  )
                  .uintField(2, 2),
              ),
          ),
        ),
      )
      .finish()
    const out = translateOtlp(decodeOtlpMetricsProtobuf(body), 0)
    expect(out.series.map((s) => [s.labels.__name__, s.labels.le, s.values[0], s.times[0]])).toEqual([
      ['h_bucket', '1', 1, 5],
      ['h_bucket', '+Inf', 3, 5],
      ['h_count', undefined, 3, 5],
    ])
    expect(() => decodeOtlpMetricsProtobuf(body.subarray(0, body.length - 3))).toThrow(/invalid protobuf/)
    expect(() => decodeOtlpMetricsProtobuf(Uint8Array.of((1 << 3) | WIRE.bytes, 5, 1))).toThrow(
      /invalid protobuf/,
    )
  })
})

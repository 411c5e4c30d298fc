/** OTLP/HTTP metrics at POST /v1/metrics and /v1/monitoring/otlp/v1/metrics, read back through PromQL. */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { gzip } from '../../workers/platform/compression'
import { ProtoReader } from '../../workers/platform/protobuf'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { otlpJson, otlpProtobuf, T0_NS } from './otlp-payloads'

const T0 = Number(T0_NS / 1_000_000n)

function send(token: string | undefined, path: string, body: string | Uint8Array, type: string) {
  return SELF.fetch(`http://edge.test${path}`, {
    method: 'POST',
    headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), 'content-type': type },
    body,
  })
}

type Api = { data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> } }

async function instant(token: string, query: string, at = T0) {
  const r = await call<Api>(
    `/v1/monitoring/prometheus/api/v1/query?query=${encodeURIComponent(query)}&time=${at / 1000}`,
    { token },
  )
  expect(r.status).toBe(200)
  return r.body.data.result
}

describe('OTLP/HTTP metrics', () => {
  it('stores a JSON export: gauges, sums, histograms and exponential histograms', async () => {
    const token = await tokenFor(uniqueTenant())
    const response = await send(token, '/v1/metrics', JSON.stringify(otlpJson()), 'application/json')
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json')
    expect(await response.json()).toEqual({})
    expect(await instant(token, 'queue_depth')).toEqual([
      {
        metric: { __name__: 'queue_depth', job: 'shop/checkout', instance: 'i-1', queue: 'orders' },
        value: [T0 / 1000, '7'],
      },
    ])
    const q = await instant(token, 'histogram_quantile(0.5, http_duration_seconds_bucket)')
    expect(Number(q[0]?.value[1])).toBeCloseTo(0.1 + (0.4 * 2) / 5)
    const size = await instant(token, 'rpc_size_bytes_bucket')
    expect(size.map((r) => [r.metric.le, r.value[1]]).sort()).toEqual([
      ['+Inf', '6'],
      ['0', '1'],
      ['2', '3'],
      ['4', '6'],
    ])
    expect((await instant(token, 'target_info'))[0]?.metric.deployment_environment).toBe('prod')
  })

  it('stores a protobuf export and accumulates delta sums into a counter', async () => {
    const token = await tokenFor(uniqueTenant())
    const path = '/v1/monitoring/otlp/v1/metrics'
    for (const [i, delta] of [3, 4, 5].entries()) {
      const body = otlpProtobuf({ timeNs: T0_NS + BigInt(i) * 15_000_000_000n, jobsDelta: delta })
      const response = await send(token, path, body, 'application/x-protobuf')
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/x-protobuf')
      expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array())
    }
    const at = T0 + 30_000
    expect((await instant(token, 'jobs_done_total', at))[0]?.value[1]).toBe('12')
    expect((await instant(token, 'jobs_done_total', T0 + 15_000))[0]?.value[1]).toBe('7')
    // A retried export carries deltas that are not newer than the series: refused, not counted twice.
    const retry = await send(
      token,
      path,
      otlpProtobuf({ timeNs: T0_NS + 30_000_000_000n, jobsDelta: 5 }),
      'application/x-protobuf',
    )
    expect(retry.status).toBe(200)
    const reply = new ProtoReader(new Uint8Array(await retry.arrayBuffer()))
    expect(reply.next()?.field).toBe(1)
    const partial = reply.message()
    expect(partial.next()?.field).toBe(1)
    expect(partial.varint()).toBe(1)
    expect(partial.next()?.field).toBe(2)
    expect(partial.string()).toMatch(/out of order/)
    expect((await instant(token, 'jobs_done_total', at))[0]?.value[1]).toBe('12')
  })

  it('accepts gzip bodies', async () => {
    const token = await tokenFor(uniqueTenant())
    const body = await gzip(otlpProtobuf())
    const response = await SELF.fetch('http://edge.test/v1/metrics', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/x-protobuf',
        'content-encoding': 'gzip',
      },
      body,
    })
    expect(response.status).toBe(200)
    expect((await instant(token, 'queue_depth'))[0]?.value[1]).toBe('7')
    const bad = await SELF.fetch('http://edge.test/v1/metrics', {
      method: 'POST',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        'content-encoding': 'br',
      },
      body: '{}',
    })
    expect(bad.status).toBe(415)
  })

  it('answers partialSuccess for rejected points and stores the rest', async () => {
    const token = await tokenFor(uniqueTenant())
    const body = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                { name: 'ok.gauge', gauge: { dataPoints: [{ timeUnixNano: String(T0_NS), asDouble: 1.5 }] } },
                {
                  name: 'bad.hist',
                  histogram: { dataPoints: [{ bucketCounts: ['1'], explicitBounds: [1, 2], count: '1' }] },
                },
              ],
            },
          ],
        },
      ],
    }
    const response = await send(token, '/v1/metrics', JSON.stringify(body), 'application/json')
    expect(response.status).toBe(200)
    const reply = (await response.json()) as {
      partialSuccess: { rejectedDataPoints: string; errorMessage: string }
    }
    expect(reply.partialSuccess.rejectedDataPoints).toBe('1')
    expect(reply.partialSuccess.errorMessage).toMatch(/bucket counts/)
    expect((await instant(token, 'ok_gauge'))[0]?.value[1]).toBe('1.5')
  })

  it('refuses malformed bodies with a google.rpc.Status and stores nothing', async () => {
    const token = await tokenFor(uniqueTenant())
    const good = otlpProtobuf()
    const broken = await send(
      token,
      '/v1/metrics',
      good.subarray(0, good.length - 5),
      'application/x-protobuf',
    )
    expect(broken.status).toBe(400)
    const status = new ProtoReader(new Uint8Array(await broken.arrayBuffer()))
    expect(status.next()?.field).toBe(1)
    expect(status.varint()).toBe(3)
    const json = await send(
      token,
      '/v1/metrics',
      '{"resourceMetrics": [{"scopeMetrics": 5}]}',
      'application/json',
    )
    expect(json.status).toBe(400)
    expect(((await json.json()) as { code: number; message: string }).message).toMatch(/scopeMetrics/)
    const notJson = await send(token, '/v1/metrics', '{', 'application/json')
    expect(notJson.status).toBe(400)
    const type = await send(token, '/v1/metrics', 'x', 'text/plain')
    expect(type.status).toBe(415)
    expect(await instant(token, 'queue_depth')).toEqual([])
  })

  it('needs a token with monitoring:write', async () => {
    const body = JSON.stringify(otlpJson())
    expect((await send(undefined, '/v1/metrics', body, 'application/json')).status).toBe(401)
    const reader = await tokenFor(uniqueTenant(), ['monitoring:read'])
    expect((await send(reader, '/v1/metrics', body, 'application/json')).status).toBe(403)
  })
})

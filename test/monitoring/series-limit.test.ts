/**
 * A tenant's series limit (cardinality) through the wires: `GET/PUT /v1/monitoring/limits`,
 * and new series past it refused with a message naming the limit — 400 on remote-write and
 * text pushes, a partial success on OTLP — while series already stored keep being written.
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import type { Series } from '../../workers/monitoring/series'
import { call, tokenFor, uniqueTenant } from '../helpers'

const BASE = '/v1/monitoring/prometheus'
const T0 = 1_700_000_000_000

function post(token: string, path: string, body: BodyInit, headers: Record<string, string> = {}) {
  return SELF.fetch(`http://edge.test${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, ...headers },
    body,
  })
}
const remoteWrite = (token: string, series: Series[]) =>
  post(token, `${BASE}/api/v1/write`, encodeRemoteWrite(series), {
    'content-type': 'application/x-protobuf',
    'content-encoding': 'snappy',
  })
const gauge = (pod: string, t: number): Series => ({
  labels: { __name__: 'pod_memory_bytes', pod },
  times: [t],
  values: [1],
})

type Limits = { maxSeries: number; shards: number; series: number }

describe('series limit per tenant', () => {
  it('shows and sets the limit, refusing bad values and read-only tokens', async () => {
    const token = await tokenFor(uniqueTenant())
    const initial = await call<Limits>('/v1/monitoring/limits', { token })
    expect(initial.body).toEqual({
      maxSeries: MONITORING_LIMITS.maxSeries,
      shards: MONITORING_LIMITS.shards,
      series: 0,
    })
    for (const maxSeries of [0, MONITORING_LIMITS.maxSeries + 1, 10.5, '8']) {
      const bad = await call('/v1/monitoring/limits', { token, method: 'PUT', body: { maxSeries } })
      expect(bad.status, String(maxSeries)).toBe(400)
    }
    const readOnly = await tokenFor(uniqueTenant(), ['monitoring:read'])
    expect(
      (await call('/v1/monitoring/limits', { token: readOnly, method: 'PUT', body: { maxSeries: 8 } }))
        .status,
    ).toBe(403)
    const set = await call<Limits>('/v1/monitoring/limits', { token, method: 'PUT', body: { maxSeries: 10 } })
    expect(set.body).toEqual({ maxSeries: 10, shards: 4, series: 0 })
    expect((await call<Limits>('/v1/monitoring/limits', { token })).body.maxSeries).toBe(10)
  })

  it('refuses new series past it with a clear error on every wire, and keeps writing stored ones', async () => {
    const token = await tokenFor(uniqueTenant())
    await call('/v1/monitoring/limits', { token, method: 'PUT', body: { maxSeries: 8 } })
    const pods = Array.from({ length: 40 }, (_, i) => gauge(`p${i}`, T0))
    const refused = await remoteWrite(token, pods)
    expect(refused.status).toBe(400)
    const body = (await refused.json()) as { status: string; errorType: string; error: string }
    expect(body).toMatchObject({ status: 'error', errorType: 'bad_data' })
    expect(body.error).toMatch(
      /^series limit reached: 32 new series refused \(this tenant's limit is 8 series; see GET \/v1\/monitoring\/limits\); 8 samples stored$/,
    )
    // Exactly the limit, over all 4 shards together.
    const stored = (await call<Limits>('/v1/monitoring/limits', { token })).body.series
    expect(stored).toBe(8)

    // The stored series still take samples.
    const names = await call<{ data: Array<Record<string, string>> }>(
      `${BASE}/api/v1/series?match[]=pod_memory_bytes`,
      { token },
    )
    expect(names.body.data).toHaveLength(stored)
    const again = names.body.data.map((labels) => ({ labels, times: [T0 + 15_000], values: [2] }))
    expect((await remoteWrite(token, again)).status).toBe(204)

    // A text push of new series, and an OTLP export of one, meet the same limit.
    const push = await SELF.fetch(`http://edge.test${BASE}/metrics/job/batch`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: 'other_metric{a="1"} 1\nother_metric{a="2"} 1\nother_metric{a="3"} 1\nother_metric{a="4"} 1\nother_metric{a="5"} 1\n',
    })
    expect(push.status).toBe(400)
    expect(((await push.json()) as { error: string }).error).toMatch(
      /^series limit reached: 6 new series refused/,
    )
    const otlp = await post(
      token,
      '/v1/metrics',
      JSON.stringify({
        resourceMetrics: [
          { scopeMetrics: [{ metrics: [{ name: 'fresh', gauge: { dataPoints: [{ asInt: '1' }] } }] }] },
        ],
      }),
      { 'content-type': 'application/json' },
    )
    expect(otlp.status).toBe(200)
    const reply = (await otlp.json()) as {
      partialSuccess: { rejectedDataPoints: string; errorMessage: string }
    }
    expect(reply.partialSuccess.rejectedDataPoints).toBe('1')
    expect(reply.partialSuccess.errorMessage).toMatch(
      /^series limit reached: 1 new series refused \(this tenant's limit is 8/,
    )
    expect((await call<Limits>('/v1/monitoring/limits', { token })).body.series).toBe(stored)
  })
})

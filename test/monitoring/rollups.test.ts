import { env, runDurableObjectAlarm, SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import { rangeQuery } from '../../workers/monitoring/query'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import type { Series } from '../../workers/monitoring/series'
import { call, tokenFor, uniqueTenant } from '../helpers'

const H = 3_600_000
const T0 = Date.UTC(2026, 5, 1)
const HOURS = 8

function gauge(instance: string, seed: number): Series {
  const times: number[] = []
  const values: number[] = []
  for (let t = T0; t <= T0 + HOURS * H; t += 15_000) {
    times.push(t)
    values.push(((t / 15_000) * seed) % 97)
  }
  return { labels: { __name__: 'queue_depth', job: 'worker', instance }, times, values }
}

async function write(token: string, series: Series[]) {
  const response = await SELF.fetch('http://edge.test/v1/monitoring/prometheus/api/v1/write', {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
    },
    body: encodeRemoteWrite(series),
  })
  expect(response.status).toBe(204)
}

/** Fires every shard's alarm: one rollup and retention pass each. */
async function rollUp(tenant: string) {
  for (let shard = 0; shard < MONITORING_LIMITS.shards; shard++) {
    const stub = env.METRIC_SHARDS.get(env.METRIC_SHARDS.idFromName(`${tenant}:metrics:series#${shard}`))
    await runDurableObjectAlarm(stub)
  }
}

type Stats = { sealedSamples: number; headSamples: number; minuteBuckets: number; hourBuckets: number }

describe('rollups and retention', () => {
  it('rolls sealed samples into 1m and 1h buckets and answers long range queries from them as from raw', async () => {
    const tenant = uniqueTenant()
    const token = await tokenFor(tenant)
    await write(token, [gauge('a', 7), gauge('b', 13)])
    await rollUp(tenant)
    const stats = await call<Stats>('/v1/monitoring/stats', { token })
    // Complete buckets end before the newest sample minus the 10-minute out-of-order window
    // (the sample at T0 itself is the bucket ending at T0).
    expect(stats.body.hourBuckets).toBe(2 * 8)
    expect(stats.body.minuteBuckets).toBe(2 * (HOURS * 60 - 10))

    for (const [query, step] of [
      ['max by (job) (max_over_time(queue_depth[1h]))', H],
      ['avg_over_time(queue_depth[1h])', H],
      ['count_over_time(queue_depth{instance="a"}[10m])', 10 * 60_000],
      ['sum_over_time(queue_depth[5m])', 5 * 60_000],
    ] as const) {
      const start = (T0 + H) / 1000
      const end = (T0 + HOURS * H) / 1000
      const api = await call<{
        data: { result: Array<{ metric: unknown; values: Array<[number, string]> }> }
      }>(
        `/v1/monitoring/prometheus/api/v1/query_range?query=${encodeURIComponent(query)}&start=${start}&end=${end}&step=${step / 1000}`,
        { token },
      )
      const raw = await rangeQuery(env, tenant, query, start * 1000, end * 1000, step, { rollups: false })
      expect(api.body.data.result.length).toBeGreaterThan(0)
      expect(api.body.data.result.map((r) => r.metric)).toEqual(raw.result.map((r) => r.metric))
      api.body.data.result.forEach((r, i) => {
        const expected = raw.result[i]?.values ?? []
        expect(r.values.map((p) => p[0])).toEqual(expected.map((p) => p[0]))
        r.values.forEach((p, j) => {
          expect(Number(p[1])).toBeCloseTo(Number(expected[j]?.[1]), 6)
        })
      })
    }
  })

  it('keeps each resolution for its retention, counted back from the newest sample', async () => {
    const tenant = uniqueTenant()
    const token = await tokenFor(tenant)
    expect((await call('/v1/monitoring/retention', { token })).body).toMatchObject({
      raw: '15d',
      rollup1m: '90d',
      rollup1h: '2y',
    })
    const bad = await call('/v1/monitoring/retention', { method: 'PUT', token, body: { raw: '5m' } })
    expect(bad.status).toBe(400)
    expect((await call('/v1/monitoring/retention', { token })).body).toMatchObject({ raw: '15d' })
    const set = await call('/v1/monitoring/retention', {
      method: 'PUT',
      token,
      body: { raw: '2h', rollup1m: '4h' },
    })
    expect(set.body).toMatchObject({ raw: '2h', rollup1m: '4h', rollup1h: '2y', rawSeconds: 7200 })

    await write(token, [gauge('a', 7), gauge('b', 13)])
    await rollUp(tenant)
    const stats = (await call<Stats>('/v1/monitoring/stats', { token })).body
    expect(stats.sealedSamples + stats.headSamples).toBeLessThanOrEqual(2 * (2 * 240 + 121))
    expect(stats.minuteBuckets).toBe(2 * (4 * 60 - 10))
    expect(stats.hourBuckets).toBe(2 * 8)

    // The first hours are gone from raw samples but still answered from 1h rollups.
    const query = 'max_over_time(queue_depth{instance="a"}[1h])'
    const raw = await rangeQuery(env, tenant, query, T0 + H, T0 + 3 * H, H, { rollups: false })
    expect(raw.result).toEqual([])
    const rolled = await rangeQuery(env, tenant, query, T0 + H, T0 + 3 * H, H)
    expect(rolled.result[0]?.values).toHaveLength(3)
  })
})

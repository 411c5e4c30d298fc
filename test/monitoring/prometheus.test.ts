import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { MONITORING_LIMITS } from '../../schemas/monitoring'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import type { Series } from '../../workers/monitoring/series'
import { ProtoWriter } from '../../workers/platform/protobuf'
import { snappyCompress, snappyDecompress } from '../../workers/platform/snappy'
import { call, tokenFor, uniqueTenant } from '../helpers'

const BASE = '/v1/monitoring/prometheus'
const T0 = 1_700_000_000_000

async function write(token: string, series: Series[] | Uint8Array) {
  const body = series instanceof Uint8Array ? series : encodeRemoteWrite(series)
  return SELF.fetch(`http://edge.test${BASE}/api/v1/write`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/x-protobuf',
      'content-encoding': 'snappy',
      'x-prometheus-remote-write-version': '0.1.0',
    },
    body,
  })
}

function counter(labels: Record<string, string>, n: number, perStep: number): Series {
  return {
    labels: { __name__: 'http_requests_total', ...labels },
    times: Array.from({ length: n }, (_, i) => T0 + i * 15_000),
    values: Array.from({ length: n }, (_, i) => i * perStep),
  }
}

type Api = {
  status: string
  data: {
    resultType: string
    result: Array<{
      metric: Record<string, string>
      value?: [number, string]
      values?: Array<[number, string]>
    }>
  }
  errorType?: string
}

describe('Prometheus remote-write and query API', () => {
  it('stores remote-written samples and answers instant and range queries in Prometheus shapes', async () => {
    const token = await tokenFor(uniqueTenant())
    const series = [
      counter({ job: 'api', instance: 'a' }, 200, 3),
      counter({ job: 'api', instance: 'b' }, 200, 6),
    ]
    expect((await write(token, series)).status).toBe(204)
    const at = (T0 + 199 * 15_000) / 1000
    const q = await call<Api>(
      `${BASE}/api/v1/query?query=${encodeURIComponent('sum by (job) (rate(http_requests_total[1m]))')}&time=${at}`,
      { token },
    )
    expect(q.status).toBe(200)
    expect(q.body.data.resultType).toBe('vector')
    expect(q.body.data.result).toHaveLength(1)
    expect(q.body.data.result[0]?.metric).toEqual({ job: 'api' })
    expect(Number(q.body.data.result[0]?.value?.[1])).toBeCloseTo(0.6, 12)
    const r = await call<Api>(
      `${BASE}/api/v1/query_range?query=${encodeURIComponent('http_requests_total{instance="b"}')}&start=${T0 / 1000}&end=${T0 / 1000 + 60}&step=30`,
      { token },
    )
    expect(r.body.data.result).toEqual([
      {
        metric: { __name__: 'http_requests_total', instance: 'b', job: 'api' },
        values: [
          [T0 / 1000, '0'],
          [T0 / 1000 + 30, '12'],
          [T0 / 1000 + 60, '24'],
        ],
      },
    ])
    const stats = await call<{ series: number; sealedSamples: number; bytesPerSample: number }>(
      '/v1/monitoring/stats',
      { token },
    )
    expect(stats.body.series).toBe(2)
    expect(stats.body.sealedSamples).toBeGreaterThan(0)
    expect(stats.body.bytesPerSample).toBeLessThan(2)
  })

  it('lists series, labels and label values', async () => {
    const token = await tokenFor(uniqueTenant())
    await write(token, [
      counter({ job: 'x', instance: 'a' }, 2, 1),
      counter({ job: 'y', instance: 'b' }, 2, 1),
    ])
    const labels = await call<{ data: string[] }>(`${BASE}/api/v1/labels`, { token })
    expect(labels.body.data).toEqual(['__name__', 'instance', 'job'])
    const values = await call<{ data: string[] }>(`${BASE}/api/v1/label/job/values`, { token })
    expect(values.body.data).toEqual(['x', 'y'])
    const series = await call<{ data: unknown[] }>(
      `${BASE}/api/v1/series?match[]=${encodeURIComponent('{job="y"}')}`,
      { token },
    )
    expect(series.body.data).toEqual([{ __name__: 'http_requests_total', instance: 'b', job: 'y' }])
  })

  it('limits series, labels and label values to the series with samples in start…end', async () => {
    const token = await tokenFor(uniqueTenant())
    const late = { labels: { __name__: 'late', job: 'z', zone: 'eu' }, times: [T0 + 3_600_000], values: [1] }
    await write(token, [counter({ job: 'x' }, 2, 1), late])
    const at = (s: number) => String(s / 1000)
    const get = async (path: string, start: number, end: number) =>
      (
        await call<{ data: unknown[] }>(
          `${BASE}${path}${path.includes('?') ? '&' : '?'}start=${at(start)}&end=${at(end)}`,
          { token },
        )
      ).body.data
    const early = [T0, T0 + 60_000] as const
    expect(await get('/api/v1/label/job/values', ...early)).toEqual(['x'])
    expect(await get('/api/v1/labels', ...early)).toEqual(['__name__', 'job'])
    expect(await get('/api/v1/label/job/values', T0 + 3_000_000, T0 + 4_000_000)).toEqual(['z'])
    const anyJob = encodeURIComponent('{job=~".+"}')
    expect(await get(`/api/v1/series?match[]=${anyJob}`, T0 + 3_000_000, T0 + 4_000_000)).toEqual([
      late.labels,
    ])
    expect(await get('/api/v1/labels', T0 - 60_000, T0 - 1)).toEqual([])
    // Without start and end: all time.
    const all = await call<{ data: string[] }>(`${BASE}/api/v1/label/job/values`, { token })
    expect(all.body.data).toEqual(['x', 'z'])
    const backwards = await call(`${BASE}/api/v1/labels?start=${at(T0)}&end=${at(T0 - 1000)}`, { token })
    expect(backwards.status).toBe(400)
  })

  it('answers a form POST query and reports parse errors in the Prometheus error shape', async () => {
    const token = await tokenFor(uniqueTenant())
    const form = await SELF.fetch(`http://edge.test${BASE}/api/v1/query`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'query=1%2B2&time=100',
    })
    expect(await form.json()).toEqual({
      status: 'success',
      data: { resultType: 'scalar', result: [100, '3'] },
    })
    const bad = await call<Api & { error: string }>(
      `${BASE}/api/v1/query?query=${encodeURIComponent('sum(')}`,
      { token },
    )
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ status: 'error', errorType: 'bad_data' })
    for (const [query, error] of [
      ['label_replace(up, "1x", "", "job", ".*")', 'invalid destination label name in label_replace(): 1x'],
      ['label_replace(up, "x", "", "job", "(")', 'invalid regular expression in label_replace(): ('],
      ['up @ 1 @ 2', '@ <timestamp> may not be set multiple times'],
      ['up[5m:0s]', 'zero step in subquery'],
    ]) {
      const refused = await call<Api & { error: string }>(
        `${BASE}/api/v1/query?query=${encodeURIComponent(query as string)}`,
        { token },
      )
      expect(refused.status, query).toBe(400)
      expect(refused.body, query).toMatchObject({ status: 'error', errorType: 'bad_data', error })
    }
  })

  it('refuses malformed remote-write bodies with 400 and stores nothing', async () => {
    const token = await tokenFor(uniqueTenant())
    const garbage = await write(token, new Uint8Array([5, 0, 1, 2, 3]))
    expect(garbage.status).toBe(400)
    // Valid snappy around a WriteRequest cut short inside its first TimeSeries.
    const whole = snappyDecompress(encodeRemoteWrite([counter({ job: 'cut' }, 3, 1)]), 1 << 20)
    const truncated = await write(token, snappyCompress(whole.subarray(0, whole.length - 4)))
    expect(truncated.status).toBe(400)
    expect(await truncated.json()).toMatchObject({ status: 'error', errorType: 'bad_data' })
    const notSnappy = await write(token, new TextEncoder().encode('http_requests_total 1\n'))
    expect(notSnappy.status).toBe(400)
    // A series naming one label twice, after a good series in the same request.
    const twice = new ProtoWriter()
    for (const job of [['ok'], ['a', 'b']]) {
      twice.message(1, (ts) => {
        ts.message(1, (l) => l.stringField(1, '__name__').stringField(2, 'up'))
        for (const value of job) ts.message(1, (l) => l.stringField(1, 'job').stringField(2, value))
        ts.message(2, (m) => m.doubleField(1, 1).int64Field(2, BigInt(T0)))
      })
    }
    const duplicate = await write(token, snappyCompress(twice.finish()))
    expect(duplicate.status).toBe(400)
    expect(((await duplicate.json()) as { error: string }).error).toContain('duplicate label name "job"')
    const badName = await write(token, [
      { labels: { __name__: '1bad' }, times: [T0], values: [1] },
      counter({ job: 'z' }, 1, 1),
    ])
    expect(badName.status).toBe(400)
    const stats = await call<{ series: number }>('/v1/monitoring/stats', { token })
    expect(stats.body.series).toBe(0)
  })

  it('accepts out-of-order samples within the window and refuses older ones', async () => {
    const token = await tokenFor(uniqueTenant())
    const labels = { __name__: 'g', job: 'o' }
    expect((await write(token, [{ labels, times: [T0 + 3_600_000], values: [5] }])).status).toBe(204)
    expect((await write(token, [{ labels, times: [T0 + 3_600_000 - 60_000], values: [4] }])).status).toBe(204)
    const late = await write(token, [
      { labels, times: [T0 + 3_600_000 - MONITORING_LIMITS.outOfOrderMs - 1], values: [3] },
    ])
    expect(late.status).toBe(400)
    const r = await call<Api>(
      `${BASE}/api/v1/query?query=count_over_time(g[1h])&time=${(T0 + 3_600_000) / 1000}`,
      { token },
    )
    expect(r.body.data.result[0]?.value?.[1]).toBe('2')
  })

  it('takes text-format pushes with grouping labels', async () => {
    const token = await tokenFor(uniqueTenant())
    const body = `# TYPE jobs_done counter\njobs_done{queue="q1"} 7 ${T0}\njobs_done{queue="q2"} 9 ${T0}\n`
    const push = await SELF.fetch(`http://edge.test${BASE}/metrics/job/batch/instance/n1`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body,
    })
    expect(push.status).toBe(204)
    const q = await call<Api>(
      `${BASE}/api/v1/query?query=${encodeURIComponent('sum by (job, instance) (jobs_done)')}&time=${T0 / 1000}`,
      { token },
    )
    expect(q.body.data.result).toEqual([
      { metric: { job: 'batch', instance: 'n1' }, value: [T0 / 1000, '16'] },
    ])
    // Values with a slash, or empty (no label), travel as base64url (pushgateway's @base64).
    const b64 = (text: string) => btoa(text).replace(/\+/g, '-').replace(/\//g, '_')
    const encoded = await SELF.fetch(
      `http://edge.test${BASE}/metrics/job/batch/path@base64/${b64('/var/tmp')}/queue@base64/=`,
      {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
        body: `disk_files{queue="q9"} 3 ${T0}\n`,
      },
    )
    expect(encoded.status).toBe(204)
    const files = await call<Api>(`${BASE}/api/v1/query?query=disk_files&time=${T0 / 1000}`, { token })
    expect(files.body.data.result).toEqual([
      { metric: { __name__: 'disk_files', job: 'batch', path: '/var/tmp' }, value: [T0 / 1000, '3'] },
    ])
    const slashJob = await SELF.fetch(`http://edge.test${BASE}/metrics/job@base64/${b64('etl/nightly')}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: `rows_loaded 42 ${T0}\n`,
    })
    expect(slashJob.status).toBe(204)
    const rows = await call<Api>(`${BASE}/api/v1/query?query=rows_loaded&time=${T0 / 1000}`, { token })
    expect(rows.body.data.result).toEqual([
      { metric: { __name__: 'rows_loaded', job: 'etl/nightly' }, value: [T0 / 1000, '42'] },
    ])
    const badBase64 = await SELF.fetch(`http://edge.test${BASE}/metrics/job/batch/path@base64/%25%25`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: `disk_files 1\n`,
    })
    expect(badBase64.status).toBe(400)
    const bad = await SELF.fetch(`http://edge.test${BASE}/metrics/job/batch`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}` },
      body: 'jobs_done{queue="q1" 7\n',
    })
    expect(bad.status).toBe(400)
  })

  it('keeps tenants apart and requires the scopes', async () => {
    const a = await tokenFor(uniqueTenant())
    const b = await tokenFor(uniqueTenant())
    await write(a, [counter({ job: 'secret' }, 1, 1)])
    const seen = await call<{ data: string[] }>(`${BASE}/api/v1/label/job/values`, { token: b })
    expect(seen.body.data).toEqual([])
    const readOnly = await tokenFor(uniqueTenant(), ['monitoring:read'])
    expect((await write(readOnly, [counter({ job: 'x' }, 1, 1)])).status).toBe(403)
    expect((await call(`${BASE}/api/v1/labels`)).status).toBe(401)
  })
})

/**
 * Staleness, as Prometheus has it: a series that went stale has no value from its marker until
 * its next sample, instead of lingering for the 5-minute lookback. Markers arrive by
 * remote-write (the NaN with Prometheus's payload), from OTLP points flagged "no recorded
 * value", and from the pushgateway wire, where PUT, POST and DELETE drop series from a group.
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import { type Series, seriesKey } from '../../workers/monitoring/series'
import { call, tokenFor, uniqueTenant } from '../helpers'

const BASE = '/v1/monitoring/prometheus'
const T0 = 1_700_000_000_000

type Result = { metric: Record<string, string>; value?: [number, string]; values?: Array<[number, string]> }

async function setup() {
  const tenant = uniqueTenant('stale')
  const token = await tokenFor(tenant)
  const send = (path: string, init: RequestInit) =>
    SELF.fetch(`http://edge.test${BASE}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
    })
  const write = async (series: Series[], status = 204) => {
    const r = await send('/api/v1/write', {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
      body: encodeRemoteWrite(series),
    })
    expect(r.status, await r.clone().text()).toBe(status)
  }
  const api = async <T>(path: string, params: Record<string, string | number>) => {
    const query = new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)]))
    const r = await call<{ status: string; data: T }>(`${BASE}/api/v1/${path}?${query}`, { token })
    expect(r.status, JSON.stringify(r.body)).toBe(200)
    return r.body.data
  }
  const instant = async (query: string, at: number) =>
    (await api<{ result: Result[] }>('query', { query, time: at / 1000 })).result
  /** The instant answer as `name{…} value` lines, sorted. */
  const lines = async (query: string, at: number) =>
    (await instant(query, at)).map((r) => `${seriesKey(r.metric)} ${r.value?.[1]}`).sort()
  const push = async (method: string, path: string, body = '') => {
    const r = await send(path, { method, body: method === 'DELETE' ? null : body })
    return r.status
  }
  return { tenant, token, write, api, instant, lines, push }
}

describe('staleness markers', () => {
  it('end a series at the marker: instant queries find nothing until its next sample', async () => {
    const { write, instant, api } = await setup()
    const g = { __name__: 'queue_depth', queue: 'jobs' }
    await write([
      { labels: g, times: [T0, T0 + 15_000, T0 + 30_000], values: [1, 2, 3], stale: [T0 + 45_000] },
    ])
    await write([{ labels: { ...g, queue: 'other' }, times: [T0, T0 + 30_000], values: [7, 8] }])

    const at = async (t: number) =>
      (await instant('queue_depth', t)).map((r) => `${r.metric.queue}=${r.value?.[1]}`).sort()
    expect(await at(T0 + 44_000)).toEqual(['jobs=3', 'other=8'])
    expect(await at(T0 + 45_000)).toEqual(['other=8'])
    // Without the marker the lookback would keep the value until T0 + 30 s + 5 min.
    expect(await at(T0 + 200_000)).toEqual(['other=8'])

    // The range functions see the real samples only.
    const counted = await instant('count_over_time(queue_depth{queue="jobs"}[2m])', T0 + 60_000)
    expect(counted.map((r) => r.value?.[1])).toEqual(['3'])
    const range = await api<{ result: Result[] }>('query_range', {
      query: 'queue_depth{queue="jobs"}',
      start: T0 / 1000,
      end: (T0 + 90_000) / 1000,
      step: 15,
    })
    expect(range.result[0]?.values?.map(([t]) => (t * 1000 - T0) / 1000)).toEqual([0, 15, 30])

    // The next sample brings the series back.
    await write([{ labels: g, times: [T0 + 60_000], values: [4] }])
    expect(await at(T0 + 61_000)).toEqual(['jobs=4', 'other=8'])
    expect(await at(T0 + 50_000)).toEqual(['other=8'])
  })

  it('lose to a sample at the same time, and a plain NaN stays a value', async () => {
    const { write, lines } = await setup()
    await write([
      { labels: { __name__: 'ratio', kind: 'tie' }, times: [T0], values: [0.5], stale: [T0] },
      { labels: { __name__: 'ratio', kind: 'nan' }, times: [T0], values: [Number.NaN] },
    ])
    expect(await lines('ratio', T0 + 1_000)).toEqual(['ratio{kind="nan"} NaN', 'ratio{kind="tie"} 0.5'])
  })

  it('make no series of their own, and follow the out-of-order window', async () => {
    const { write, api, instant } = await setup()
    await write([{ labels: { __name__: 'ghost' }, times: [], values: [], stale: [T0] }])
    expect(await api('series', { 'match[]': 'ghost' })).toEqual([])

    // A marker older than the series' newest sample minus the window is refused like a sample.
    const g = { __name__: 'late' }
    await write([{ labels: g, times: [T0, T0 + 3_600_000], values: [1, 2] }])
    await write([{ labels: g, times: [], values: [], stale: [T0 + 1] }], 400)
    expect((await instant('late', T0 + 1_000)).map((r) => r.value?.[1])).toEqual(['1'])
  })

  it('arrive from OTLP points flagged "no recorded value" for gauges', async () => {
    const { token, instant } = await setup()
    const point = (timeMs: number, extra: Record<string, unknown>) => ({
      timeUnixNano: String(BigInt(timeMs) * 1_000_000n),
      attributes: [{ key: 'pool', value: { stringValue: 'db' } }],
      ...extra,
    })
    const body = (points: unknown[]) => ({
      resourceMetrics: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'api' } }] },
          scopeMetrics: [{ metrics: [{ name: 'connections', gauge: { dataPoints: points } }] }],
        },
      ],
    })
    const send = (points: unknown[]) =>
      call('/v1/monitoring/otlp/v1/metrics', { method: 'POST', token, body: body(points) })
    expect((await send([point(T0, { asDouble: 5 })])).status).toBe(200)
    expect((await instant('connections', T0 + 20_000)).map((r) => r.value?.[1])).toEqual(['5'])
    expect((await send([point(T0 + 30_000, { flags: 1 })])).status).toBe(200)
    expect(await instant('connections', T0 + 31_000)).toEqual([])
    expect((await instant('connections', T0 + 20_000)).map((r) => r.value?.[1])).toEqual(['5'])
  })
})

describe('pushgateway groups', () => {
  const group = '/metrics/job/backup/instance/db1'

  it('PUT replaces all of the group, POST the pushed names, DELETE all; other groups stay', async () => {
    const { push, lines, instant } = await setup()
    const now = () => Date.now() + 1_000
    expect(
      await push(
        'PUT',
        group,
        'backup_bytes 100\nbackup_files{kind="full"} 3\nbackup_files{kind="diff"} 9\n',
      ),
    ).toBe(204)
    expect(await push('PUT', '/metrics/job/backup/instance/db2', 'backup_bytes 7\n')).toBe(204)
    expect(await lines('{job="backup", __name__!="push_time_seconds"}', now())).toHaveLength(4)
    // Each push sets its group's push_time_seconds, as the pushgateway does.
    const pushed = await instant('push_time_seconds{job="backup"}', now())
    expect(pushed.map((r) => r.metric.instance).sort()).toEqual(['db1', 'db2'])
    for (const r of pushed) expect(Math.abs(Number(r.value?.[1]) - Date.now() / 1000)).toBeLessThan(60)

    // POST replaces only backup_files: its "diff" series goes; backup_bytes stays.
    expect(await push('POST', group, 'backup_files{kind="full"} 4\n')).toBe(204)
    expect(await lines('{job="backup",instance="db1",__name__!="push_time_seconds"}', now())).toEqual([
      'backup_bytes{instance="db1",job="backup"} 100',
      'backup_files{instance="db1",job="backup",kind="full"} 4',
    ])

    // PUT replaces everything the group had.
    expect(await push('PUT', group, 'backup_seconds 12\n')).toBe(204)
    expect(await lines('{job="backup",instance="db1",__name__!="push_time_seconds"}', now())).toEqual([
      'backup_seconds{instance="db1",job="backup"} 12',
    ])

    expect(await push('DELETE', group)).toBe(202)
    expect(await lines('{job="backup",instance="db1"}', now())).toEqual([])
    expect(await lines('{job="backup", __name__!="push_time_seconds"}', now())).toEqual([
      'backup_bytes{instance="db2",job="backup"} 7',
    ])
    expect((await instant('push_time_seconds', now())).map((r) => r.metric.instance)).toEqual(['db2'])
    // Deleting a group nobody pushed is accepted too, as in the pushgateway.
    expect(await push('DELETE', '/metrics/job/never/instance/x')).toBe(202)
  })

  it('keep groups per tenant, refuse a bad grouping path and need the write scope', async () => {
    const a = await setup()
    const b = await setup()
    expect(await a.push('PUT', group, 'backup_bytes 1\n')).toBe(204)
    expect(await b.push('DELETE', group)).toBe(202)
    expect(await a.lines('backup_bytes', Date.now() + 1_000)).toHaveLength(1)

    expect(await a.push('DELETE', '/metrics/job/backup/instance')).toBe(400)
    const reader = await tokenFor(a.tenant, ['monitoring:read'])
    const denied = await SELF.fetch(`http://edge.test${BASE}${group}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${reader}` },
    })
    expect(denied.status).toBe(403)
    expect(await a.lines('backup_bytes', Date.now() + 1_000)).toHaveLength(1)
  })
})

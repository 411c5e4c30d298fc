/**
 * Metric metadata at `/api/v1/metadata` (Prometheus's shape), from every wire that carries
 * it: `# HELP`/`# TYPE` lines of pushes, remote-write's MetricMetadata, OTLP descriptions.
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { expositionMetadata } from '../../workers/monitoring/metadata'
import { encodeRemoteWrite } from '../../workers/monitoring/remote-write'
import { call, tokenFor, uniqueTenant } from '../helpers'

const BASE = '/v1/monitoring/prometheus'

type Entry = { type: string; help: string; unit: string }

async function setup() {
  const token = await tokenFor(uniqueTenant('meta'))
  const send = (path: string, init: RequestInit) =>
    SELF.fetch(`http://edge.test${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, ...(init.headers as Record<string, string>) },
    })
  const metadata = async (query = '') => {
    const r = await call<{ status: string; data: Record<string, Entry[]>; error?: string }>(
      `${BASE}/api/v1/metadata${query}`,
      { token },
    )
    return r
  }
  return { token, send, metadata }
}

describe('metric metadata', () => {
  it('comes from the HELP and TYPE lines of pushes', async () => {
    const { send, metadata } = await setup()
    const body = [
      '# HELP backup_bytes Bytes written by the last backup.\\nIn total.',
      '# TYPE backup_bytes gauge',
      'backup_bytes 100',
      '# TYPE backup_runs_total counter',
      'backup_runs_total 3',
      '',
    ].join('\n')
    expect((await send(`${BASE}/metrics/job/backup`, { method: 'PUT', body })).status).toBe(204)
    const answer = await metadata()
    expect(answer.status).toBe(200)
    expect(answer.body.data).toEqual({
      backup_bytes: [{ type: 'gauge', help: 'Bytes written by the last backup.\nIn total.', unit: '' }],
      backup_runs_total: [{ type: 'counter', help: '', unit: '' }],
    })
    // A malformed push records nothing.
    const bad = await send(`${BASE}/metrics/job/backup`, {
      method: 'PUT',
      body: '# TYPE broken gauge\nbroken {',
    })
    expect(bad.status).toBe(400)
    expect(Object.keys((await metadata()).body.data).sort()).toEqual(['backup_bytes', 'backup_runs_total'])
  })

  it("comes from remote-write's MetricMetadata; filters by metric and limits like Prometheus", async () => {
    const { send, metadata } = await setup()
    const write = (entries: Parameters<typeof encodeRemoteWrite>[1]) =>
      send(`${BASE}/api/v1/write`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'snappy' },
        body: encodeRemoteWrite([], entries),
      })
    expect(
      (
        await write([
          { metric: 'http_requests_total', type: 'counter', help: 'Requests.', unit: '' },
          { metric: 'latency_seconds', type: 'histogram', help: 'Latency.', unit: 'seconds' },
          { metric: 'queue_depth', type: 'gauge', help: 'Depth.', unit: '' },
        ])
      ).status,
    ).toBe(204)
    // Another target's help text for the same metric is a second entry, newest first.
    await write([{ metric: 'http_requests_total', type: 'counter', help: 'All requests.', unit: '' }])

    expect((await metadata('?metric=http_requests_total')).body.data).toEqual({
      http_requests_total: [
        { type: 'counter', help: 'All requests.', unit: '' },
        { type: 'counter', help: 'Requests.', unit: '' },
      ],
    })
    expect((await metadata('?metric=http_requests_total&limit_per_metric=1')).body.data).toEqual({
      http_requests_total: [{ type: 'counter', help: 'All requests.', unit: '' }],
    })
    expect(Object.keys((await metadata('?limit=2')).body.data)).toEqual([
      'http_requests_total',
      'latency_seconds',
    ])
    expect((await metadata('?limit=0')).body.data).toEqual({})
    expect((await metadata('?metric=nothing_here')).body.data).toEqual({})
    const bad = await metadata('?limit=many')
    expect(bad.status).toBe(400)
    expect(bad.body).toMatchObject({ status: 'error', errorType: 'bad_data' })

    // Tenants see only their own.
    const other = await setup()
    expect((await other.metadata()).body.data).toEqual({})
  })

  it('comes from OTLP metric descriptions and units, typed as Prometheus types them', async () => {
    const { token, metadata } = await setup()
    const point = { timeUnixNano: '1700000000000000000', asDouble: 1 }
    const body = {
      resourceMetrics: [
        {
          scopeMetrics: [
            {
              metrics: [
                {
                  name: 'http.server.requests',
                  description: 'Requests served.',
                  sum: { isMonotonic: true, aggregationTemporality: 2, dataPoints: [point] },
                },
                {
                  name: 'pool.connections',
                  description: 'Open connections.',
                  sum: { isMonotonic: false, aggregationTemporality: 2, dataPoints: [point] },
                },
                { name: 'disk.free', unit: 'By', description: 'Free space.', gauge: { dataPoints: [point] } },
              ],
            },
          ],
        },
      ],
    }
    expect((await call('/v1/metrics', { method: 'POST', token, body })).status).toBe(200)
    expect((await metadata()).body.data).toEqual({
      http_server_requests_total: [{ type: 'counter', help: 'Requests served.', unit: '' }],
      pool_connections: [{ type: 'gauge', help: 'Open connections.', unit: '' }],
      disk_free_bytes: [{ type: 'gauge', help: 'Free space.', unit: 'By' }],
    })
  })
})

describe('expositionMetadata', () => {
  it('reads HELP (unescaped), TYPE and UNIT per family; unknown types are unknown', () => {
    expect(
      expositionMetadata(
        '# HELP a One\\\\two\n# TYPE a counter\n# TYPE b weird\n# UNIT c seconds\n# just a comment\na 1\n',
      ),
    ).toEqual([
      { metric: 'a', type: 'counter', help: 'One\\two', unit: '' },
      { metric: 'b', type: 'unknown', help: '', unit: '' },
      { metric: 'c', type: 'unknown', help: '', unit: 'seconds' },
    ])
  })
})

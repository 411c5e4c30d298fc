/** Every LogQL feature through the Loki API over the fixed corpus (corpus.ts). */
import { beforeAll, describe, expect, it } from 'vitest'
import { ANCHOR_MS, API, at, CORPUS, NGINX, STACK_TRACE, TRACE_ID, WINDOW, WORKER } from './corpus'
import { type LokiResponse, linesOf, newTenant, pushJson, queryRange, request, type Tenant } from './support'

let tenant: Tenant

beforeAll(async () => {
  tenant = await newTenant('logql')
  const response = await pushJson(tenant, CORPUS)
  expect(response.status).toBe(204)
})

const lines = async (query: string, extra: Record<string, string> = {}) =>
  linesOf(
    (await queryRange(tenant, { query, ...WINDOW, limit: '100', ...extra })).data.result,
    extra.direction !== 'forward',
  )

describe('stream selectors', () => {
  it.each([
    ['{app="nginx"}', [...NGINX].reverse()],
    ['{app=~"api|worker", env="staging"}', [...WORKER].reverse()],
    ['{app=~".+", env!="prod"}', [...WORKER].reverse()],
    ['{app!~"api|nginx", env=~"prod|staging"}', [...WORKER].reverse()],
  ])('%s', async (query, expected) => {
    expect(await lines(query)).toEqual(expected)
  })

  it('returns each stream with its labels', async () => {
    const result = (await queryRange(tenant, { query: '{env="prod"}', ...WINDOW })).data.result
    expect(result.map((s) => s.stream).sort((a, b) => String(a.app).localeCompare(String(b.app)))).toEqual([
      { app: 'api', env: 'prod' },
      { app: 'nginx', env: 'prod' },
    ])
  })
})

describe('line filters', () => {
  it.each([
    ['{app="nginx"} |= "/api/"', [NGINX[4], NGINX[3], NGINX[1], NGINX[0]]],
    ['{app="nginx"} != "curl"', [NGINX[4], NGINX[2], NGINX[1]]],
    ['{app="nginx"} |~ "\\" (4|5)\\\\d\\\\d "', [NGINX[3], NGINX[1]]],
    ['{app="nginx"} !~ "GET"', [NGINX[4], NGINX[1]]],
    ['{app="nginx"} |= "api" != "login"', [NGINX[4], NGINX[3], NGINX[0]]],
    ['{app="api"} |= "ECONNREFUSED"', [STACK_TRACE]],
    ['{app="api"} |= `at Pool.connect`', [STACK_TRACE]],
  ])('%s', async (query, expected) => {
    expect(await lines(query)).toEqual(expected)
  })
})

describe('parsers and label filters', () => {
  it.each([
    ['{app="api"} | json | level="error"', [API[1]]],
    ['{app="api"} | json | duration_ms > 500', [API[3], API[1]]],
    ['{app="api"} | json | http_status >= 500', [API[1]]],
    ['{app="api"} | json | user_id="u-123"', [API[2], API[0]]],
    ['{app="api"} | json | user_id=~"u-(4|7).*" and level!="warn"', [API[1]]],
    ['{app="api"} | json | __error__!=""', [STACK_TRACE]],
    ['{app="worker"} | logfmt | level="error"', [WORKER[1]]],
    ['{app="worker"} | logfmt | duration < 1', [WORKER[2]]],
    ['{app="worker"} | logfmt | queue=~"e.*"', [WORKER[1], WORKER[0]]],
    ['{app="worker"} | logfmt | job_id="j-2" or attempt="3"', [WORKER[2], WORKER[1]]],
    [`{app="worker"} | trace_id="${TRACE_ID}"`, [WORKER[1]]],
  ])('%s', async (query, expected) => {
    expect(await lines(query)).toEqual(expected)
  })

  it('adds parsed fields to the stream labels (nested keys joined with _)', async () => {
    const result = (await queryRange(tenant, { query: '{app="api"} | json | level="error"', ...WINDOW })).data
      .result
    expect(result).toEqual([
      {
        stream: {
          app: 'api',
          env: 'prod',
          level: 'error',
          msg: 'payment failed',
          user_id: 'u-456',
          duration_ms: '1300',
          http_method: 'POST',
          http_status: '502',
        },
        values: [[at(2500), API[1]]],
      },
    ])
  })

  it('rewrites lines with line_format', async () => {
    expect(await lines('{app="worker"} | logfmt | line_format "{{.level}}: {{ .msg }}"')).toEqual([
      'info: job done',
      'error: job failed',
      'info: job started',
    ])
  })

  it('keeps structured metadata as labels of the line', async () => {
    const result = (await queryRange(tenant, { query: '{app="worker"} |= "failed"', ...WINDOW })).data.result
    expect(result).toEqual([
      { stream: { app: 'worker', env: 'staging', trace_id: TRACE_ID }, values: [[at(2200), WORKER[1]]] },
    ])
  })
})

describe('direction and limit', () => {
  it('returns the newest lines first by default, the oldest with direction=forward', async () => {
    expect(await lines('{app="nginx"}', { limit: '2' })).toEqual([NGINX[4], NGINX[3]])
    expect(await lines('{app="nginx"}', { limit: '2', direction: 'forward' })).toEqual([NGINX[0], NGINX[1]])
  })

  it('applies the limit across streams', async () => {
    const result = (
      await queryRange(tenant, {
        query: '{env=~"prod|staging"}',
        ...WINDOW,
        limit: '3',
        direction: 'forward',
      })
    ).data.result
    expect(linesOf(result, false)).toEqual([NGINX[0], WORKER[0], API[0]])
  })
})

type Vector = Array<{ metric: Record<string, string>; value: [number, string] }>
type Matrix = Array<{ metric: Record<string, string>; values: Array<[number, string]> }>

async function instant(query: string, timeMs: number): Promise<LokiResponse<Vector>> {
  const response = await request(
    tenant,
    `/loki/api/v1/query?${new URLSearchParams({ query, time: `${timeMs / 1000}.0` })}`,
  )
  expect(response.status).toBe(200)
  return (await response.json()) as LokiResponse<Vector>
}

describe('metric queries', () => {
  it('count_over_time as an instant vector', async () => {
    const { data } = await instant('count_over_time({app="nginx"}[1m])', ANCHOR_MS + 60_000)
    expect(data).toEqual({
      resultType: 'vector',
      result: [{ metric: { app: 'nginx', env: 'prod' }, value: [(ANCHOR_MS + 60_000) / 1000, '5'] }],
      stats: {},
    })
  })

  it('rate is the count per second of the range', async () => {
    const { data } = await instant('rate({app="nginx"}[1m])', ANCHOR_MS + 60_000)
    expect(Number(data.result[0]?.value[1])).toBeCloseTo(5 / 60, 12)
  })

  it('bytes_over_time sums the UTF-8 bytes of the lines', async () => {
    const { data } = await instant('sum(bytes_over_time({app="worker"}[1h]))', ANCHOR_MS + 60_000)
    const bytes = WORKER.reduce((sum, line) => sum + new TextEncoder().encode(line).length, 0)
    expect(data.result).toEqual([{ metric: {}, value: [(ANCHOR_MS + 60_000) / 1000, String(bytes)] }])
  })

  it('sum by, avg, max and topk', async () => {
    const time = ANCHOR_MS + 3_600_000
    const values = async (query: string) =>
      (await instant(query, time)).data.result.map((r) => [r.metric, r.value[1]])
    expect(await values('sum by (app) (count_over_time({env="prod"}[1h]))')).toEqual([
      [{ app: 'api' }, '5'],
      [{ app: 'nginx' }, '5'],
    ])
    expect(await values('sum(count_over_time({app=~".+"}[1h]))')).toEqual([[{}, '13']])
    // Structured metadata are labels of their line, as in Loki: the worker's line with a
    // trace_id is a series of its own (1 line) beside the other two lines.
    expect(await values('avg(count_over_time({app=~".+"}[1h])) by (env)')).toEqual([
      [{ env: 'prod' }, '5'],
      [{ env: 'staging' }, '1.5'],
    ])
    expect(await values('max by (env) (count_over_time({app=~".+"}[1h]))')).toEqual([
      [{ env: 'prod' }, '5'],
      [{ env: 'staging' }, '2'],
    ])
    expect(await values('count by (env) (count_over_time({app=~".+"}[1h]))')).toEqual([
      [{ env: 'prod' }, '2'],
      [{ env: 'staging' }, '2'],
    ])
    expect(await values('topk(1, sum by (app) (count_over_time({app=~"api|worker"}[1h])))')).toEqual([
      [{ app: 'api' }, '5'],
    ])
    // The stack trace is no JSON: it has no level, so it counts in the group without one.
    expect(await values('sum by (level) (count_over_time({app="api"} | json [1h]))')).toEqual([
      [{ level: 'error' }, '1'],
      [{ level: 'info' }, '2'],
      [{ level: 'warn' }, '1'],
      [{}, '1'],
    ])
  })

  it('a range query steps through time as a matrix', async () => {
    const result = await queryRange<Matrix>(tenant, {
      query: 'count_over_time({app="nginx"}[2s])',
      start: at(0),
      end: at(6000),
      step: '2s',
    })
    const s = ANCHOR_MS / 1000
    expect(result.data).toMatchObject({
      resultType: 'matrix',
      result: [
        {
          metric: { app: 'nginx', env: 'prod' },
          values: [
            [s + 2, '2'],
            [s + 4, '2'],
            [s + 6, '1'],
          ],
        },
      ],
    })
  })
})

describe('labels, values and series', () => {
  const range = () => new URLSearchParams({ start: WINDOW.start, end: WINDOW.end })

  it('lists label names and values', async () => {
    const names = await (await request(tenant, `/loki/api/v1/labels?${range()}`)).json()
    expect(names).toEqual({ status: 'success', data: ['app', 'env'] })
    const values = await (await request(tenant, `/loki/api/v1/label/app/values?${range()}`)).json()
    expect(values).toEqual({ status: 'success', data: ['api', 'nginx', 'worker'] })
  })

  it('lists the series matching match[] selectors', async () => {
    const params = range()
    params.append('match[]', '{env="prod"}')
    const series = await (await request(tenant, `/loki/api/v1/series?${params}`)).json()
    expect(series).toEqual({
      status: 'success',
      data: [
        { app: 'api', env: 'prod' },
        { app: 'nginx', env: 'prod' },
      ],
    })
  })
})

describe('query errors', () => {
  it.each([
    ['{app="nginx"', 'parse error'],
    ['{app=""}', 'parse error'],
    ['{app="nginx"} |~ "("', 'parse error'],
    ['count_over_time({app="nginx"})', 'parse error'],
    ['nosuch({app="nginx"}[1m])', 'parse error'],
  ])('%s answers 400 in plain text', async (query) => {
    const response = await request(
      tenant,
      `/loki/api/v1/query_range?${new URLSearchParams({ query, ...WINDOW })}`,
    )
    expect(response.status).toBe(400)
    expect(response.headers.get('content-type')).toContain('text/plain')
    expect(await response.text()).toMatch(/^parse error/)
  })

  it('refuses more than 11,000 points per series', async () => {
    const response = await request(
      tenant,
      `/loki/api/v1/query_range?${new URLSearchParams({ query: 'count_over_time({app="nginx"}[1m])', ...WINDOW, step: '0.1' })}`,
    )
    expect(response.status).toBe(400)
  })
})

/** Field, word and label searches are served from indexes: the plan and SQLite's own query plan. */
import { beforeAll, describe, expect, it } from 'vitest'
import { CORPUS } from './corpus'
import { newTenant, pushJson, request, type Tenant } from './support'

let tenant: Tenant

beforeAll(async () => {
  tenant = await newTenant('plans')
  await request(tenant, '/v1/logs/settings', {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: '{"shards":1}',
  })
  expect((await pushJson(tenant, CORPUS)).status).toBe(204)
})

interface Explained {
  shards: Array<{ plan: { streamLabels: string[][]; words: string[]; fields: string[][] }; sqlite: string[] }>
}

async function explain(query: string): Promise<Explained['shards']> {
  const response = await request(tenant, `/v1/logs/explain?${new URLSearchParams({ query })}`)
  expect(response.status).toBe(200)
  const { shards } = (await response.json()) as Explained
  return shards.filter((s) => s.plan)
}

describe('query plans', () => {
  it('serves a field search from the field index, not by scanning lines', async () => {
    for (const { plan, sqlite } of await explain('{env="prod"} | json | user_id="u-123"')) {
      expect(plan).toEqual({ streamLabels: [['env', 'prod']], words: [], fields: [['user_id', 'u-123']] })
      expect(sqlite.join('\n')).toMatch(/SEARCH fields USING PRIMARY KEY \(name=\? AND value=\?\)/)
    }
  })

  it('serves structured metadata and logfmt fields from the same index', async () => {
    const [shard] = await explain('{app="worker"} | trace_id="abc123def456"')
    expect(shard?.plan.fields).toEqual([['trace_id', 'abc123def456']])
    const [logfmt] = await explain('{app="worker"} | logfmt | job_id="j-2" and queue="reports"')
    expect(logfmt?.plan.fields).toEqual([
      ['job_id', 'j-2'],
      ['queue', 'reports'],
    ])
  })

  it('serves a word search from the FTS5 trigram index', async () => {
    for (const { plan, sqlite } of await explain('{env="prod"} |= "ECONNREFUSED"')) {
      expect(plan.words).toEqual(['ECONNREFUSED'])
      expect(sqlite.join('\n')).toMatch(/SCAN lines VIRTUAL TABLE INDEX/)
    }
  })

  it('selects streams through the label index', async () => {
    const shards = await explain('{app="nginx", env="prod"}')
    expect(shards).toHaveLength(1)
    expect(shards[0]?.plan).toEqual({
      streamLabels: [
        ['app', 'nginx'],
        ['env', 'prod'],
      ],
      words: [],
      fields: [],
    })
    expect(shards[0]?.sqlite.join('\n')).toMatch(/entries/)
  })

  it.each([
    ['{app="api"} |= "ab"', 'a word under 3 characters has no trigram'],
    ['{app="api"} | line_format "{{.x}}" |= "abc"', 'a filter after line_format sees another line'],
    ['{app="api"} | json | level="x" or level="y"', 'an "or" is not one lookup'],
    ['{app="api"} | app="api"', 'app is a stream label, not a field'],
    ['{app="api"} | json | level_extracted="x"', 'renamed parsed labels are not indexed under that name'],
  ])('%s uses no index (%s)', async (query) => {
    const [shard] = await explain(query)
    expect(shard?.plan.words).toEqual([])
    expect(shard?.plan.fields).toEqual([])
  })
})

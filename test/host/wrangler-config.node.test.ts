/** wrangler.toml as the host reads it: every binding the Worker declares, as data. */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { parseToml, wranglerConfig } from '../../apps/host/wrangler-config'

describe('wranglerConfig', () => {
  it("reads the project's wrangler.toml: objects, the bucket, the crawler's service binding", () => {
    const text = readFileSync(new URL('../../wrangler.toml', import.meta.url), 'utf8')
    const config = wranglerConfig(text)
    const declared = [...text.matchAll(/^class_name = "(\w+)"/gm)].map((match) => match[1])
    expect(config.bindings.map((binding) => binding.className)).toEqual(declared)
    expect(config.buckets).toEqual([{ binding: 'BLOBS', bucketName: 'edgeblocks-blobs' }])
    expect(config.services).toContainEqual({
      binding: 'SEARCH_CRAWL_FETCHER',
      service: config.name,
      entrypoint: 'CrawlFetcher',
    })
    expect(config.vars.LIBSQL_URL).toBeDefined()
    expect(config.unsupported).toEqual([])
  })

  it('parses strings, numbers, booleans, multi-line arrays and comments, and names bindings it lacks', () => {
    const config = wranglerConfig(`
name = 'app' # literal string
[vars]
A = "x # not a comment"
N = 3
[triggers]
crons = [
  "0 * * * *",
  '*/5 * * * *', # trailing comma next
]
[[kv_namespaces]]
binding = "KV"
id = "abc"
[[r2_buckets]]
binding = "B"
`)
    expect(config.name).toBe('app')
    expect(config.vars).toEqual({ A: 'x # not a comment' })
    expect(config.crons).toEqual(['0 * * * *', '*/5 * * * *'])
    expect(config.buckets).toEqual([{ binding: 'B', bucketName: 'B' }])
    expect(config.unsupported).toEqual(['kv_namespaces'])
    expect(parseToml('flag = true\nlist = [1, 2]').root).toEqual({ flag: true, list: [1, 2] })
    expect(() => parseToml('what is this')).toThrow(SyntaxError)
  })
})

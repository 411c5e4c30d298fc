import { describe, expect, it } from 'vitest'
import { kvClient, replicaState } from './support'

describe('kv keys', () => {
  it('writes, reads back with ETag and context, and stores on N replicas', async () => {
    const kv = await kvClient()
    const put = await kv.put('a/b c', 'hello', { headers: { 'x-kv-metadata': '{"owner":"me"}' } })
    expect(put.status).toBe(200)
    expect(put.json.acks).toBe(3)
    const got = await kv.get('a/b c')
    expect(got.status).toBe(200)
    expect(got.text).toBe('hello')
    expect(got.headers.get('content-type')).toBe('text/plain')
    expect(got.headers.get('x-kv-metadata')).toBe('{"owner":"me"}')
    expect(got.headers.get('etag')).toMatch(/^".+"$/)
    const state = await replicaState(await kv.ns(), 'a/b c')
    expect(Object.values(state).every((ids) => ids?.length === 1)).toBe(true)
  })

  it('keeps concurrent writes as siblings and resolves them with the merged context', async () => {
    const kv = await kvClient()
    await kv.put('k', 'one')
    await kv.put('k', 'two')
    const siblings = await kv.get('k')
    expect(siblings.status).toBe(300)
    const values = (siblings.json.siblings as Array<{ value: string }>).map((s) => atob(s.value)).sort()
    expect(values).toEqual(['one', 'two'])
    const context = siblings.headers.get('x-kv-context') as string
    const merged = await kv.put('k', 'merged', { headers: { 'x-kv-context': context } })
    expect(merged.json.siblings).toBe(1)
    const after = await kv.get('k')
    expect(after.status).toBe(200)
    expect(after.text).toBe('merged')
  })
})

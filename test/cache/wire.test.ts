import { describe, expect, it } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { cacheTester } from './support'

describe('the Upstash REST wire', () => {
  it('runs one command per request: 200 {result}, 400 {error} with the Redis text', async () => {
    const t = await cacheTester()
    expect(await t.cmd('SET', 'k', 'v')).toMatchObject({ status: 200, body: { result: 'OK' } })
    expect(await t.cmd('GET', 'k')).toMatchObject({ status: 200, body: { result: 'v' } })
    expect(await t.cmd('get', 'missing')).toMatchObject({ status: 200, body: { result: null } })
    expect(await t.r('SET', 'n', 41)).toBe('OK')
    expect(await t.r('INCR', 'n')).toBe(42)
    const wrong = await t.cmd('LPUSH', 'k', 'x')
    expect(wrong).toMatchObject({
      status: 400,
      body: { error: 'WRONGTYPE Operation against a key holding the wrong kind of value' },
    })
    expect(wrong.headers.get('content-type')).toContain('application/json')
    expect(await t.cmd('FOO', 'bar')).toMatchObject({
      status: 400,
      body: { error: "ERR unknown command 'FOO', with args beginning with: 'bar' " },
    })
    expect(await t.r('GET', 'k')).toBe('v')
  })

  it('takes the body whatever its content type (curl -d sends a form type)', async () => {
    const t = await cacheTester()
    const response = await call(`/v1/cache/${t.cache}`, {
      token: t.token,
      body: '["SET","k","v"]',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    })
    expect(response).toMatchObject({ status: 200, body: { result: 'OK' } })
    expect(await t.r('GET', 'k')).toBe('v')
  })

  it('numbers and booleans in a command are their text, as the client sends them', async () => {
    const t = await cacheTester()
    expect(await t.r('SET', 'n', 1.5)).toBe('OK')
    expect(await t.r('GET', 'n')).toBe('1.5')
    await call(`/v1/cache/${t.cache}`, { token: t.token, body: ['SET', 'b', true] })
    expect(await t.r('GET', 'b')).toBe('true')
  })

  it('bad bodies answer 400 {error} and change nothing', async () => {
    const t = await cacheTester()
    const path = `/v1/cache/${t.cache}`
    for (const body of ['not json', '[]', '{"a":1}', '[["nested"]]', '[null]']) {
      const response = await call(path, { token: t.token, body })
      expect(response.status).toBe(400)
      expect((response.body as { error: string }).error).toMatch(/^ERR /)
    }
    const pipeline = await call(`${path}/pipeline`, { token: t.token, body: [] })
    expect(pipeline).toMatchObject({ status: 400, body: { error: 'ERR empty pipeline' } })
    expect(await call(`/v1/cache/bad name!`, { token: t.token, body: ['GET', 'k'] })).toMatchObject({
      status: 400,
      body: { error: 'ERR invalid cache name' },
    })
    expect(await t.r('DBSIZE')).toBe(0)
  })

  it('a value over the 1 MiB argument limit is refused with a Redis error; nothing is stored', async () => {
    const t = await cacheTester()
    const big = 'x'.repeat(1024 * 1024 + 1)
    const response = await t.cmd('SET', 'big', big)
    expect(response).toMatchObject({
      status: 400,
      body: { error: 'ERR argument longer than 1048576 characters' },
    })
    expect(await t.r('EXISTS', 'big')).toBe(0)
    expect(await t.r('SET', 'fits', 'x'.repeat(1024 * 1024))).toBe('OK')
    expect(await t.r('EXISTS', 'fits')).toBe(1)
  })

  it('401 {error} without a valid token; 403 NOPERM for a write with a read-only token', async () => {
    const t = await cacheTester()
    const path = `/v1/cache/${t.cache}`
    const none = await call(path, { body: ['GET', 'k'] })
    expect(none.status).toBe(401)
    expect(none.body).toEqual({ error: 'This route needs a bearer token.' })
    expect((await call(path, { token: 'a.b.c', body: ['GET', 'k'] })).status).toBe(401)
    const reader = await tokenFor(t.tenant, ['cache:read'])
    expect(await call(path, { token: reader, body: ['GET', 'k'] })).toMatchObject({
      status: 200,
      body: { result: null },
    })
    const denied = await call(path, { token: reader, body: ['SET', 'k', 'v'] })
    expect(denied.status).toBe(403)
    expect((denied.body as { error: string }).error).toMatch(/^NOPERM .*'set' command/)
    const other = await tokenFor(t.tenant, ['queue:read'])
    expect((await call(path, { token: other, body: ['GET', 'k'] })).status).toBe(403)
    expect(await t.r('EXISTS', 'k')).toBe(0)
  })

  it('isolates tenants: the same cache name is a different cache', async () => {
    const a = await cacheTester()
    const bToken = await tokenFor(uniqueTenant('c'), ['cache:read', 'cache:write'])
    await a.r('SET', 'shared', 'a-value')
    const b = await call(`/v1/cache/${a.cache}`, { token: bToken, body: ['GET', 'shared'] })
    expect(b.body).toEqual({ result: null })
    await call(`/v1/cache/${a.cache}`, { token: bToken, body: ['FLUSHDB'] })
    expect(await a.r('GET', 'shared')).toBe('a-value')
  })

  it('Upstash-Encoding: base64 encodes every result string except a bare OK', async () => {
    const t = await cacheTester()
    const path = `/v1/cache/${t.cache}`
    const headers = { 'upstash-encoding': 'base64' }
    expect((await call(path, { token: t.token, body: ['SET', 'k', 'héllo'], headers })).body).toEqual({
      result: 'OK',
    })
    expect((await call(path, { token: t.token, body: ['GET', 'k'], headers })).body).toEqual({
      result: btoa(String.fromCharCode(...new TextEncoder().encode('héllo'))),
    })
    await t.r('RPUSH', 'l', 'OK', 'a')
    expect((await call(path, { token: t.token, body: ['LRANGE', 'l', 0, -1], headers })).body).toEqual({
      result: [btoa('OK'), btoa('a')],
    })
    expect((await call(path, { token: t.token, body: ['LLEN', 'l'], headers })).body).toEqual({ result: 2 })
    expect((await call(path, { token: t.token, body: ['GET', 'l'], headers })).body).toEqual({
      error: 'WRONGTYPE Operation against a key holding the wrong kind of value',
    })
  })

  it('pipeline: 200 with a reply per command, in order, errors in place', async () => {
    const t = await cacheTester()
    const { status, body } = await t.pipeline([
      ['SET', 'a', '1'],
      ['INCR', 'a'],
      ['NOPE'],
      ['MGET', 'a', 'b'],
      ['SET', 'b', 'x'],
      ['INCR', 'b'],
    ])
    expect(status).toBe(200)
    expect(body).toEqual([
      { result: 'OK' },
      { result: 2 },
      { error: "ERR unknown command 'NOPE', with args beginning with: " },
      { result: ['2', null] },
      { result: 'OK' },
      { error: 'ERR value is not an integer or out of range' },
    ])
  })

  it('multi-exec: atomic on one node; CROSSSLOT and EXECABORT answer 400 and run nothing', async () => {
    const t = await cacheTester()
    expect(
      await t.multi([
        ['SET', '{cart:1}:items', '3'],
        ['INCRBY', '{cart:1}:items', 2],
        ['HSET', '{cart:1}:meta', 'owner', 'ada'],
      ]),
    ).toMatchObject({ status: 200, body: [{ result: 'OK' }, { result: 5 }, { result: 1 }] })
    const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
    const cross = await t.multi(keys.slice(0, 10).map((k) => ['SET', k, 'v']))
    expect(cross).toMatchObject({
      status: 400,
      body: { error: "CROSSSLOT Keys in request don't hash to the same slot" },
    })
    const abort = await t.multi([['SET', '{x}a', '1'], ['GET']])
    expect(abort).toMatchObject({
      status: 400,
      body: { error: 'EXECABORT Transaction discarded because of previous errors.' },
    })
    expect(await t.r('EXISTS', ...keys.slice(0, 10), '{x}a')).toBe(0)
  })
})

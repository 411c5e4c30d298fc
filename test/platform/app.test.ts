import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../workers/app'
import { BLOCKS } from '../../workers/blocks'
import { call } from '../helpers'

describe('the Worker', () => {
  it('answers /healthz', async () => {
    const { status, body, headers } = await call('/healthz')
    expect(status).toBe(200)
    expect(body).toEqual({ status: 'ok' })
    expect(headers.get('server-timing')).toMatch(/total;dur=/)
  })

  it('lists the mounted blocks and their versions at /v1', async () => {
    const { status, body } = await call<{ blocks: Array<{ name: string; version: string; path: string }> }>(
      '/v1',
    )
    expect(status).toBe(200)
    expect(body.blocks.map((b) => b.name)).toEqual(BLOCKS.map((b) => b.name))
    for (const block of body.blocks) {
      expect(block.version).toMatch(/\S/)
      expect(block.path).toMatch(/^\/v1\//)
    }
  })

  it('answers an unknown path with a 404 problem', async () => {
    const { status, body, headers } = await call('/v1/nowhere/at-all')
    expect(status).toBe(404)
    expect(headers.get('content-type')).toBe('application/problem+json')
    expect(body).toMatchObject({
      type: 'urn:edgeblocks:problem:not_found',
      title: 'Not found',
      status: 404,
      instance: '/v1/nowhere/at-all',
    })
    expect(body.detail).toEqual(expect.any(String))
    expect(body.requestId).toEqual(headers.get('x-request-id'))
  })

  it('answers a wrong method with 405 and Allow', async () => {
    const { status, body, headers } = await call('/healthz', { method: 'DELETE' })
    expect(status).toBe(405)
    expect(headers.get('allow')).toBe('GET, HEAD')
    expect(headers.get('content-type')).toBe('application/problem+json')
    expect(body).toMatchObject({ type: 'urn:edgeblocks:problem:method_not_allowed', status: 405 })

    const tokens = await call('/v1/tokens', { method: 'GET' })
    expect(tokens.status).toBe(405)
    expect(tokens.headers.get('allow')).toBe('POST')
  })

  it('echoes a clean x-request-id and generates one otherwise', async () => {
    const echoed = await call('/healthz', { headers: { 'x-request-id': 'abc-123' } })
    expect(echoed.headers.get('x-request-id')).toBe('abc-123')
    const generated = await call('/healthz')
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
    const dirty = await call('/healthz', { headers: { 'x-request-id': 'bad id <script>' } })
    expect(dirty.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('turns an uncaught error into a 500 problem with the request id and no stack', async () => {
    const app = createApp()
    app.get('/explode', () => {
      throw new Error('secret internal detail at file.ts:12')
    })
    const response = await app.request('/explode', { headers: { 'x-request-id': 'req-500' } }, env)
    expect(response.status).toBe(500)
    expect(response.headers.get('content-type')).toBe('application/problem+json')
    const text = await response.text()
    expect(text).not.toContain('secret internal detail')
    expect(text).not.toContain('file.ts')
    expect(JSON.parse(text)).toMatchObject({
      type: 'urn:edgeblocks:problem:internal',
      status: 500,
      requestId: 'req-500',
    })
  })
})

describe('input limits', () => {
  it('rejects a body over the limit with 413 before parsing it', async () => {
    const { status, body } = await call('/v1/tokens', {
      body: `{"tenant":"${'a'.repeat(1024 * 1024 + 10)}"}`,
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    expect(status).toBe(413)
    expect(body).toMatchObject({ type: 'urn:edgeblocks:problem:payload_too_large', status: 413 })
  })

  it('answers invalid input with a 400 problem listing each failing field', async () => {
    const { status, body } = await call<{ errors: Array<{ path: string; message: string }> }>('/v1/tokens', {
      body: { tenant: 'Not A Tenant!', scopes: ['queue:delete'], ttlSeconds: 5 },
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    expect(status).toBe(400)
    expect(body).toMatchObject({ type: 'urn:edgeblocks:problem:validation_failed', status: 400 })
    const paths = body.errors.map((e) => e.path).sort()
    expect(paths).toEqual(['body/scopes/0', 'body/tenant', 'body/ttlSeconds'])
    for (const error of body.errors) expect(error.message).toEqual(expect.any(String))
  })

  it('answers malformed JSON with a 400 problem', async () => {
    const { status, headers, body } = await call('/v1/tokens', {
      body: '{"tenant": ',
      headers: { authorization: `Bearer ${env.ROOT_KEY}` },
    })
    expect(status).toBe(400)
    expect(headers.get('content-type')).toBe('application/problem+json')
    expect(body).toMatchObject({ status: 400 })
  })
})

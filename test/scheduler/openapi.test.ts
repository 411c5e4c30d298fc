import { describe, expect, it } from 'vitest'
import { call } from '../helpers'

interface Operation {
  'x-required-scope'?: string
  requestBody?: { content: Record<string, { schema: Record<string, unknown> }> }
  parameters?: Array<{ name: string; in: string }>
  responses: Record<string, unknown>
}

describe('the scheduler in /v1 and /openapi.json', () => {
  it('is listed as a block and documents every route with its scope, inputs and problems', async () => {
    const blocks = await call<{ blocks: Array<{ name: string; path: string }> }>('/v1')
    expect(blocks.body.blocks).toContainEqual(
      expect.objectContaining({ name: 'scheduler', path: '/v1/scheduler' }),
    )

    const { body } = await call<{ paths: Record<string, Record<string, Operation>> }>('/openapi.json')
    const routes: Array<[string, string, string]> = [
      ['/v1/scheduler/tasks', 'post', 'scheduler:write'],
      ['/v1/scheduler/tasks', 'get', 'scheduler:read'],
      ['/v1/scheduler/tasks/{id}', 'get', 'scheduler:read'],
      ['/v1/scheduler/tasks/{id}', 'delete', 'scheduler:write'],
      ['/v1/scheduler/tasks/{id}/retry', 'post', 'scheduler:write'],
      ['/v1/scheduler/limits', 'get', 'scheduler:read'],
      ['/v1/scheduler/limits', 'put', 'scheduler:write'],
      ['/v1/scheduler/signing-secret', 'get', 'scheduler:write'],
      ['/v1/scheduler/signing-secret/rotate', 'post', 'scheduler:write'],
      ['/v1/scheduler/schedules', 'post', 'scheduler:write'],
      ['/v1/scheduler/schedules', 'get', 'scheduler:read'],
      ['/v1/scheduler/schedules/{name}', 'get', 'scheduler:read'],
      ['/v1/scheduler/schedules/{name}', 'delete', 'scheduler:write'],
      ['/v1/scheduler/schedules/{name}/pause', 'post', 'scheduler:write'],
      ['/v1/scheduler/schedules/{name}/resume', 'post', 'scheduler:write'],
      ['/v1/scheduler/schedules/{name}/trigger', 'post', 'scheduler:write'],
      ['/v1/scheduler/schedules/{name}/runs', 'get', 'scheduler:read'],
    ]
    for (const [path, method, scope] of routes) {
      const operation = body.paths[path]?.[method]
      expect(operation?.['x-required-scope'], `${method} ${path}`).toBe(scope)
      expect(Object.keys(operation?.responses ?? {}), `${method} ${path}`).toEqual(
        expect.arrayContaining(['400', '401', '403']),
      )
    }
    const create = body.paths['/v1/scheduler/tasks']?.post
    expect(JSON.stringify(create?.requestBody?.content['application/json']?.schema)).toContain('delaySeconds')
    expect(
      create?.parameters?.some(
        (parameter) => parameter.name === 'idempotency-key' && parameter.in === 'header',
      ),
    ).toBe(true)
    expect(Object.keys(create?.responses ?? {})).toEqual(expect.arrayContaining(['201', '409', '422']))
    expect(JSON.stringify(body.paths['/v1/scheduler/schedules']?.post?.requestBody)).toContain(
      'catchupWindowSeconds',
    )
  })
})

import { expect, it } from 'vitest'
import { call } from '../helpers'

interface Operation {
  parameters?: Array<{ name: string; in: string }>
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }
  responses: Record<string, { content?: Record<string, unknown> }>
  'x-required-scope'?: string
}

it('documents every counters route with its inputs, scope and problems', async () => {
  const { body } = await call<{ paths: Record<string, Record<string, Operation>> }>('/openapi.json')
  const operations = Object.entries(body.paths)
    .filter(([path]) => path.startsWith('/v1/counters'))
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ path, method, operation })),
    )
  expect(operations.map(({ method, path }) => `${method} ${path}`).sort()).toEqual([
    'delete /v1/counters/{name}',
    'delete /v1/counters/{name}/members/{member}',
    'get /v1/counters',
    'get /v1/counters/{name}',
    'get /v1/counters/{name}/config',
    'get /v1/counters/{name}/live',
    'get /v1/counters/{name}/members/{member}',
    'post /v1/counters/{name}/increment',
    'put /v1/counters/{name}',
    'put /v1/counters/{name}/members/{member}',
  ])
  for (const { path, method, operation } of operations) {
    expect(operation['x-required-scope'], `${method} ${path}`).toMatch(/^counters:(read|write)$/)
    expect(operation.responses['400']?.content?.['application/problem+json']).toBeDefined()
    if (path.includes('{name}')) expect(operation.parameters?.map((p) => p.name)).toContain('name')
  }
  const increment = body.paths['/v1/counters/{name}/increment']?.post
  expect(increment?.parameters?.map((p) => `${p.in}:${p.name}`)).toContain('header:idempotency-key')
  expect(increment?.requestBody?.content['application/json']?.schema.properties).toHaveProperty('by')
  expect(Object.keys(increment?.responses ?? {})).toEqual(
    expect.arrayContaining(['200', '404', '409', '422']),
  )
})

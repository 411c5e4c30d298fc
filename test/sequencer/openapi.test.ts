import { describe, expect, it } from 'vitest'
import { call } from '../helpers'

interface Operation {
  'x-required-scope'?: string
  requestBody?: {
    content: Record<string, { schema: { properties: Record<string, Record<string, unknown>> } }>
  }
  responses: Record<string, unknown>
}

describe('the sequencer in /v1 and /openapi.json', () => {
  it('is listed as a block and documents every route with its scope, bounds and problems', async () => {
    const blocks = await call<{ blocks: Array<{ name: string; path: string }> }>('/v1')
    expect(blocks.body.blocks).toContainEqual(
      expect.objectContaining({ name: 'sequencer', path: '/v1/sequencer' }),
    )

    const { body } = await call<{ paths: Record<string, Record<string, Operation>> }>('/openapi.json')
    const issue = body.paths['/v1/sequencer/generators/{name}/ids']?.post
    expect(issue?.['x-required-scope']).toBe('sequencer:write')
    const count = issue?.requestBody?.content['application/json']?.schema.properties.count
    expect(count).toMatchObject({ minimum: 1, maximum: 10_000 })
    expect(Object.keys(issue?.responses ?? {})).toEqual(
      expect.arrayContaining(['200', '400', '401', '403', '503']),
    )
    expect(body.paths['/v1/sequencer/generators/{name}']?.get?.['x-required-scope']).toBe('sequencer:read')
    expect(body.paths['/v1/sequencer/decode/{id}']?.get?.['x-required-scope']).toBe('sequencer:read')
    expect(body.paths['/v1/sequencer/clocks/{name}/lamport']?.post).toBeDefined()
    expect(Object.keys(body.paths['/v1/sequencer/clocks/{name}/hlc']?.post?.responses ?? {})).toContain('422')
  })
})

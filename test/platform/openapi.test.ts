import { describe, expect, it } from 'vitest'
import { call } from '../helpers'

interface Document {
  openapi: string
  info: { title: string; version: string }
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>>
  components: { securitySchemes: Record<string, unknown>; schemas: Record<string, unknown> }
}

describe('/openapi.json', () => {
  it('is an OpenAPI 3.1 document of the mounted routes with problems and the security scheme', async () => {
    const { status, body } = await call<Document>('/openapi.json')
    expect(status).toBe(200)
    expect(body.openapi).toBe('3.1.0')
    expect(body.info.title).toBe('edgeblocks')
    expect(Object.keys(body.paths)).toEqual(
      expect.arrayContaining(['/healthz', '/v1', '/v1/tokens', '/v1/tokens/{tokenId}']),
    )
    expect(body.components.securitySchemes.bearerAuth).toEqual({
      type: 'http',
      scheme: 'bearer',
      bearerFormat: 'JWT',
    })
    expect(body.components.schemas.Problem).toBeDefined()
    const revoke = body.paths['/v1/tokens/{tokenId}']?.delete
    expect(revoke?.responses['401']?.content?.['application/problem+json']).toBeDefined()
    expect(revoke?.responses['403']?.content?.['application/problem+json']).toBeDefined()
  })
})

describe('/docs', () => {
  it('serves the reference without any external URL', async () => {
    const { status, headers, body } = await call<string>('/docs')
    expect(status).toBe(200)
    expect(headers.get('content-type')).toMatch(/text\/html/)
    expect(body).toContain('/openapi.json')
    expect(body).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i)
    expect(body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/)
  })
})

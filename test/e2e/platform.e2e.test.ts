import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { Validator } from '@seriousme/openapi-schema-validator'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

const run = promisify(execFile)
let platform: RunningPlatform

beforeAll(async () => {
  platform = await startPlatform()
})

afterAll(async () => {
  await platform?.stop()
})

describe('npm run dev', () => {
  it('prints the URL, the docs URL and a ready-to-use token', async () => {
    const output = platform.output()
    expect(output).toContain(`API     ${platform.url}`)
    expect(output).toContain(`Docs    ${platform.url}/docs`)
    const token = /export TOKEN=(\S+)/.exec(output)?.[1]
    expect(token).toBeDefined()
    const response = await fetch(`${platform.url}/v1/whoami`, {
      headers: { authorization: `Bearer ${token}` },
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({ tenant: 'dev', scopes: ['admin'] })
  })

  it('serves /healthz', async () => {
    const response = await fetch(`${platform.url}/healthz`)
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ status: 'ok' })
  })

  it('serves an /openapi.json that passes an OpenAPI 3.1 validator', async () => {
    const document = (await (await fetch(`${platform.url}/openapi.json`)).json()) as Parameters<
      Validator['validate']
    >[0]
    const validator = new Validator()
    const result = await validator.validate(document)
    expect(result.errors ?? []).toEqual([])
    expect(result.valid).toBe(true)
    expect(validator.version).toBe('3.1')
  })

  it("serves an /openapi.json with no errors under Redocly's recommended rules", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'edgeblocks-openapi-'))
    try {
      const file = join(dir, 'openapi.json')
      await writeFile(file, await (await fetch(`${platform.url}/openapi.json`)).text())
      const redocly = fileURLToPath(new URL('../../node_modules/.bin/redocly', import.meta.url))
      const { stdout } = await run(redocly, ['lint', file, '--extends=recommended', '--format=json']).catch(
        (error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }),
      )
      const report = JSON.parse(stdout) as {
        totals: { errors: number }
        problems: Array<{ ruleId: string; severity: string; message: string }>
      }
      expect(report.problems.filter((problem) => problem.severity === 'error')).toEqual([])
      expect(report.totals.errors).toBe(0)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('serves /docs without any external URL', async () => {
    const response = await fetch(`${platform.url}/docs`)
    expect(response.status).toBe(200)
    const html = await response.text()
    expect(html).not.toMatch(/(?:src|href)\s*=\s*["']?(?:https?:)?\/\//i)
  })

  it('mints a token with the root key, uses it on a protected route, and revokes it', async () => {
    const minted = await fetch(`${platform.url}/v1/tokens`, {
      method: 'POST',
      headers: { authorization: `Bearer ${platform.rootKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ tenant: 'e2e', scopes: ['admin'], ttlSeconds: 600 }),
    })
    expect(minted.status).toBe(201)
    const { token, tokenId } = (await minted.json()) as { token: string; tokenId: string }
    const me = await fetch(`${platform.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
    expect(me.status).toBe(200)
    const revoke = await fetch(`${platform.url}/v1/tokens/${tokenId}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${token}` },
    })
    expect(revoke.status).toBe(200)
    const after = await fetch(`${platform.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } })
    expect(after.status).toBe(401)
    expect(after.headers.get('content-type')).toBe('application/problem+json')
  })
})

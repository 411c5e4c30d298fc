/** The platform's request logs land in tenant `platform`, after the response, and only when switched on. */
import { createExecutionContext, env, waitOnExecutionContext } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { createApp } from '../../workers/app'
import { tokenFor } from '../helpers'
import { queryRange } from './support'

async function requestThroughApp(setting: 'on' | 'off', path: string, token: string): Promise<string> {
  const ctx = createExecutionContext()
  const response = await createApp().fetch(
    new Request(`http://edge.test${path}`, { headers: { authorization: `Bearer ${token}` } }),
    { ...env, LOGS_REQUEST_LOGS: setting },
    ctx,
  )
  await waitOnExecutionContext(ctx)
  return response.headers.get('x-request-id') as string
}

describe('request logs', () => {
  it('writes method, route, status, duration, tenant and request id when on, nothing when off', async () => {
    const tenant = `rl-${crypto.randomUUID().slice(0, 8)}`
    const token = await tokenFor(tenant, ['logs:read'])
    const operator = { name: 'platform', token: await tokenFor('platform', ['logs:read']) }
    const on = await requestThroughApp('on', '/v1/logs/settings', token)
    const off = await requestThroughApp('off', '/v1/logs/settings', token)
    const missing = await requestThroughApp('on', '/v1/logs/nothing-here', token)
    const lines = async (id: string) => {
      const result = await queryRange(operator, {
        query: `{service_name="edgeblocks"} | json | request_id="${id}"`,
        since: '1h',
      })
      return result.data.result.flatMap((s) => s.values.map(([, line]) => JSON.parse(line)))
    }
    const [entry] = await lines(on)
    expect(entry).toMatchObject({
      method: 'GET',
      route: '/v1/logs/settings',
      status: 200,
      tenant,
      request_id: on,
    })
    expect(typeof entry.duration_ms).toBe('number')
    expect(await lines(off)).toEqual([])
    expect(await lines(missing)).toMatchObject([{ route: 'unmatched', status: 404 }])
  })
})

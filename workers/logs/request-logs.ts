/**
 * `requestLogs()`: the platform's own request logs (method, route, status, duration, tenant,
 * request id) as JSON lines in tenant `platform`, stream `{service_name="edgeblocks",
 * method="…"}`, so operators query the platform with the logs block itself
 * (`{service_name="edgeblocks"} | json | status >= 500`).
 *
 * The line is written after the response, through `waitUntil`, so it never slows a response
 * and a logging failure never fails a request. Switch: LOGS_REQUEST_LOGS (`on` by default).
 */
import type { MiddlewareHandler } from 'hono'
import { routePath } from 'hono/route'
import type { AuthEnv } from '../platform/auth/middleware'
import { ingestStreams } from './ingest'
import { requestLogsEnabled } from './settings'

export const PLATFORM_TENANT = 'platform'

export function requestLogs(): MiddlewareHandler<AuthEnv & { Variables: { requestId: string } }> {
  return async function requestLogsMiddleware(c, next) {
    const started = Date.now()
    await next()
    if (!requestLogsEnabled(c.env)) return
    let waitUntil: (promise: Promise<unknown>) => void
    try {
      const ctx = c.executionCtx
      waitUntil = (promise) => ctx.waitUntil(promise)
    } catch {
      return // No execution context (e.g. app.request in a unit test): nothing to write with.
    }
    const status = c.res.status
    const requestId = c.get('requestId') ?? ''
    const line = JSON.stringify({
      method: c.req.method,
      route: status === 404 ? 'unmatched' : routePath(c, -1),
      path: new URL(c.req.url).pathname.slice(0, 512),
      status,
      duration_ms: Date.now() - started,
      tenant: c.get('principal')?.tenant ?? '',
      request_id: requestId,
    })
    const streams = [
      {
        labels: { service_name: 'edgeblocks', method: c.req.method },
        entries: [{ ms: started, ns: 0, line }],
      },
    ]
    waitUntil(
      ingestStreams(
        c.env,
        PLATFORM_TENANT,
        streams,
        `request:${requestId || crypto.randomUUID()}`,
        waitUntil,
      ).catch((error) =>
        console.error(
          JSON.stringify({
            level: 'warn',
            block: 'logs',
            message: 'request log not written',
            error: String(error),
          }),
        ),
      ),
    )
  }
}

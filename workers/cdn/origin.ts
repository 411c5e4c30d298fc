/**
 * The CDN's request to its origin: a URL (through the shared forwarding proxy), a load
 * balancer of the same tenant (through the load balancer's traffic path) or a public-read
 * bucket of the same tenant (the blob block's delivery function; the path is the key),
 * within the site's timeout to the response headers. A failure is an answer (502 or 504),
 * not a throw.
 */
import { readObjectForDelivery } from '../blob/delivery'
import { serveBalancer } from '../lb/traffic'
import type { Env } from '../platform/env'
import { asAppError } from '../platform/errors'
import { sendToOrigin, targetUrl } from '../platform/proxy'

export interface OriginCall {
  originUrl: string | null
  originBalancer: string | null
  originBucket: string | null
  tenant: string
  host: string
  /** Path and query as the origin should see them. */
  path: string
  /** The client's URL (scheme and host, for a balancer origin). */
  clientUrl: string
  /** Headers for a URL origin (already forwarded: X-Forwarded-*, CDN-Loop). */
  forwardHeaders: Array<[string, string]>
  /** The client's headers for a balancer origin (it adds its own forwarding fields). */
  clientHeaders: Array<[string, string]>
  method: string
  timeoutMs: number
}

export type OriginAnswer =
  | { kind: 'ok'; response: Response }
  | { kind: 'failed'; status: 502 | 504; detail: string }

/** Fields a cache fill never forwards: it asks for the whole object and sets its own validators. */
const FILL_DROPS = [
  'range',
  'if-range',
  'if-none-match',
  'if-modified-since',
  'if-match',
  'if-unmodified-since',
]

export async function callOrigin(
  env: Env,
  ctx: { waitUntil(promise: Promise<unknown>): void },
  call: OriginCall,
  validators: Record<string, string> | undefined,
  body: ReadableStream | null = null,
): Promise<OriginAnswer> {
  const pass = validators === undefined
  const [pathname, search = ''] = call.path.split(/\?(.*)/s)
  const prepare = (list: Array<[string, string]>) => {
    const headers = new Headers(list)
    if (!pass) for (const name of FILL_DROPS) headers.delete(name)
    for (const [name, value] of Object.entries(validators ?? {})) headers.set(name, value)
    return headers
  }
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), call.timeoutMs)
  try {
    if (call.originBucket) {
      const method = pass ? call.method : 'GET'
      if (method !== 'GET' && method !== 'HEAD') {
        await body?.cancel()
        return {
          kind: 'ok',
          response: new Response('A bucket origin is read-only.\n', {
            status: 405,
            headers: { allow: 'GET, HEAD' },
          }),
        }
      }
      const key = decodeURIComponent((pathname ?? '/').slice(1))
      const response = key
        ? await readObjectForDelivery(
            env,
            call.tenant,
            call.originBucket,
            key,
            prepare(call.clientHeaders),
            method,
          )
        : new Response('Not found.\n', { status: 404 })
      return { kind: 'ok', response }
    }
    if (call.originBalancer) {
      const url = new URL(call.clientUrl)
      const request = new Request(url, {
        method: pass ? call.method : 'GET',
        headers: prepare(call.clientHeaders),
        body,
        signal: controller.signal,
      })
      const context = {
        waitUntil: (p: Promise<unknown>) => ctx.waitUntil(p),
        passThroughOnException() {},
        props: {},
      }
      const response = await serveBalancer(
        request,
        env,
        context as unknown as ExecutionContext,
        { tenant: call.tenant, name: call.originBalancer },
        {
          path: pathname ?? '/',
          search: search ? `?${search}` : '',
        },
      )
      return { kind: 'ok', response }
    }
    const response = await sendToOrigin({
      method: pass ? call.method : 'GET',
      url: targetUrl(call.originUrl ?? '', pathname ?? '/', search ? `?${search}` : ''),
      headers: prepare(call.forwardHeaders),
      body,
      signal: controller.signal,
    })
    if (response.status < 200 || response.status > 599) {
      // No Response can carry it (e.g. 999): a bad gateway answer, not the worker's 500.
      await response.body?.cancel()
      return { kind: 'failed', status: 502, detail: `The origin answered with status ${response.status}.` }
    }
    return { kind: 'ok', response }
  } catch (error) {
    if (controller.signal.aborted)
      return { kind: 'failed', status: 504, detail: `The origin did not answer within ${call.timeoutMs} ms.` }
    const problem = asAppError(error)
    return {
      kind: 'failed',
      status: problem.status === 504 ? 504 : 502,
      detail: problem.code === 'internal' ? 'The origin could not be reached.' : problem.detail,
    }
  } finally {
    clearTimeout(timer)
  }
}

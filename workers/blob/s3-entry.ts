/**
 * Where S3 requests enter the Worker, before the platform's `/v1` app (S3 keeps its own auth,
 * errors, request ids and 5 GiB body limit): path style under `/s3` (`/s3/<bucket>/<key>`)
 * on any host and, when `BLOB_S3_HOST` is set (e.g. `s3.example.com`, with a wildcard DNS
 * record and certificate), virtual-host style `<bucket>.<BLOB_S3_HOST>/<key>` and path style
 * on that host itself.
 */
import type { Env } from '../platform/env'
import { handleS3, pathStyleTarget } from './s3'

declare global {
  namespace Cloudflare {
    interface Env {
      /** The S3 API's own host name for virtual-host style requests, e.g. `s3.example.com`. */
      BLOB_S3_HOST?: string
    }
  }
}

export const S3_MOUNT = '/s3'

/** Serves the request when it is an S3 request; undefined for everything else. */
export function serveS3(request: Request, env: Env, ctx: ExecutionContext): Promise<Response> | undefined {
  const url = new URL(request.url)
  const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise)
  if (url.pathname === S3_MOUNT || url.pathname.startsWith(`${S3_MOUNT}/`)) {
    return handleS3(request, env, waitUntil, pathStyleTarget(url.pathname, S3_MOUNT))
  }
  const s3Host = env.BLOB_S3_HOST?.toLowerCase()
  if (!s3Host) return undefined
  const host = (request.headers.get('host') ?? url.host).toLowerCase().replace(/:\d+$/, '')
  if (host === s3Host) return handleS3(request, env, waitUntil, pathStyleTarget(url.pathname, ''))
  if (!host.endsWith(`.${s3Host}`)) return undefined
  const bucket = host.slice(0, -(s3Host.length + 1))
  const { key } = pathStyleTarget(`/${bucket}${url.pathname}`, '')
  return handleS3(request, env, waitUntil, { bucket, key })
}

/**
 * Virtual-host style S3 (`https://<bucket>.<BLOB_S3_HOST>/<key>`) and path style on the S3
 * host itself (`https://<BLOB_S3_HOST>/<bucket>/<key>`), next to the `/s3` mount. Off unless
 * `BLOB_S3_HOST` is set (e.g. `s3.example.com`, with a wildcard DNS record and certificate).
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

/** Serves the request when it is addressed to the S3 host or one of its bucket subdomains. */
export function serveS3Host(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
): Promise<Response> | undefined {
  const s3Host = env.BLOB_S3_HOST?.toLowerCase()
  if (!s3Host) return undefined
  const url = new URL(request.url)
  const host = (request.headers.get('host') ?? url.host).toLowerCase().replace(/:\d+$/, '')
  const waitUntil = (promise: Promise<unknown>) => ctx.waitUntil(promise)
  if (host === s3Host) return handleS3(request, env, waitUntil, pathStyleTarget(url.pathname, ''))
  if (!host.endsWith(`.${s3Host}`)) return undefined
  const bucket = host.slice(0, -(s3Host.length + 1))
  const { key } = pathStyleTarget(`/${bucket}${url.pathname}`, '')
  return handleS3(request, env, waitUntil, { bucket, key })
}

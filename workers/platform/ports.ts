/**
 * Ports: the outside services blocks use, as the narrow interfaces every host provides.
 * On Cloudflare they are the bindings themselves (R2, the Cache API); the portable host
 * (Bun, Deno, Node) provides implementations of the same shapes. Blocks take these types,
 * never `R2Bucket` or `caches.default` directly, so their code has one version.
 */
import type { Env } from './env'

/** The object storage every block shares (blob bytes, log archives, CDN shield bodies). Keys are prefixed per block. */
export type ObjectBucket = Pick<
  R2Bucket,
  'head' | 'get' | 'put' | 'delete' | 'list' | 'createMultipartUpload' | 'resumeMultipartUpload'
>

/** A cache of HTTP responses local to the edge location (Workers Cache API semantics). */
export type EdgeCache = Pick<Cache, 'match' | 'put' | 'delete'>

/** The shared bucket, or a clear failure when the binding is missing from the configuration. */
export function objectBucket(env: Env): ObjectBucket {
  if (!env.BLOBS) throw new Error('The BLOBS object-storage binding is not configured')
  return env.BLOBS
}

/** The edge location's HTTP cache. */
export function edgeCache(env: Env): EdgeCache {
  return env.EDGE_CACHE ?? (caches as unknown as { default: Cache }).default
}

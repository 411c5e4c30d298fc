/**
 * Traffic through a CDN site. GET and HEAD go to the key's shield object (a stored variant,
 * a revalidation or a collapsed fill) and the answer is completed here: the body streams
 * from the bucket (a slice for a Range, several as multipart/byteranges, none for HEAD or a
 * 304 to a conditional request), with `Age` and an RFC 9211 `Cache-Status` entry appended.
 * A sliced variant's body is read slice by slice (body.ts); when its first needed slice shows
 * that the origin changed version, the key is filled again (once) before answering.
 * Other methods pass through to the origin, body streaming; when they succeed they
 * invalidate the URL (and `Location` / `Content-Location` on the same host), RFC 9111 §4.4.
 */
import type { CreateSiteInput } from '../../schemas/cdn'
import { bucketAccess } from '../blob/delivery'
import { sha256Hex } from '../platform/encoding'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { type ObjectBucket, objectBucket } from '../platform/ports'
import { forwardHeaders, problemResponse, refuseLoop, withoutHopByHop } from '../platform/proxy'
import { objectStub } from '../platform/tenancy'
import { readVariant, type SliceFetcher, SliceUnavailable } from './body'
import { type EdgeHit, edgeLookup, edgeStore } from './edge-tier'
import { cacheStatus, invalidates } from './freshness'
import { cacheKey } from './keys'
import { siteSettings, siteStub } from './manage'
import type { WireAnswer } from './object'
import { callOrigin, type OriginCall } from './origin'
import { type ByteRange, ifRangeHolds, notModified, parseRange } from './ranges'
import type { KeyCall, Variant } from './variant'

const originFailure = (status: 502 | 504, detail: string) =>
  new AppError(status === 504 ? 'timeout' : 'bad_gateway', detail)

/** A 502/504 problem for a failed origin, with this cache's `Cache-Status` entry (every response carries one). */
function failureResponse(status: 502 | 504, detail: string, path: string, cacheStatusValue: string) {
  const problem = problemResponse(originFailure(status, detail), path)
  problem.headers.append('cache-status', cacheStatusValue)
  return problem
}

export interface SiteServeOptions {
  path: string
  search: string
  stripAuthorization?: boolean
}

function multipart(
  bucket: ObjectBucket,
  variant: Variant,
  fetchSlice: SliceFetcher,
  ranges: ByteRange[],
  size: number,
  type: string,
  boundary: string,
) {
  const encoder = new TextEncoder()
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
  const write = async () => {
    const writer = writable.getWriter()
    for (const range of ranges) {
      await writer.write(
        encoder.encode(
          `\r\n--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${range.start}-${range.end}/${size}\r\n\r\n`,
        ),
      )
      const part = await readVariant(bucket, variant, range, fetchSlice)
      if (part) {
        const reader = part.getReader()
        for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read())
          await writer.write(chunk.value)
      }
    }
    await writer.write(encoder.encode(`\r\n--${boundary}--\r\n`))
    await writer.close()
  }
  return { readable, done: write().catch((error: unknown) => writable.abort(error)) }
}

async function variantResponse(
  env: Env,
  ctx: ExecutionContext,
  request: Request,
  variant: Variant,
  age: number,
  status: string,
  fetchSlice: SliceFetcher,
) {
  const headers = withoutHopByHop(new Headers(variant.headers))
  headers.set('age', String(Math.max(0, age)))
  headers.append('cache-status', status)
  const etag = headers.get('etag')
  const lastModified = headers.get('last-modified')
  if (variant.status === 200 && notModified(request.headers, etag, lastModified)) {
    headers.delete('content-length')
    return { response: new Response(null, { status: 304, headers }), bytes: 0 }
  }
  const bucket = objectBucket(env)
  const range =
    variant.status === 200 && ifRangeHolds(request.headers.get('if-range'), etag, lastModified)
      ? parseRange(request.headers.get('range'), variant.size)
      : { kind: 'whole' as const }
  headers.set('accept-ranges', 'bytes')
  if (range.kind === 'unsatisfiable') {
    headers.set('content-range', `bytes */${variant.size}`)
    headers.delete('content-length')
    return { response: new Response(null, { status: 416, headers }), bytes: 0 }
  }
  const head = request.method === 'HEAD'
  if (range.kind === 'ranges' && range.ranges.length === 1) {
    const [only] = range.ranges as [ByteRange]
    const length = only.end - only.start + 1
    headers.set('content-range', `bytes ${only.start}-${only.end}/${variant.size}`)
    headers.set('content-length', String(length))
    const body = head ? null : await readVariant(bucket, variant, only, fetchSlice)
    return {
      response: new Response(body, { status: 206, headers }),
      bytes: head ? 0 : length,
    }
  }
  if (range.kind === 'ranges') {
    const boundary = crypto.randomUUID().replaceAll('-', '')
    const type = headers.get('content-type') ?? 'application/octet-stream'
    headers.set('content-type', `multipart/byteranges; boundary=${boundary}`)
    headers.delete('content-length')
    if (head) return { response: new Response(null, { status: 206, headers }), bytes: 0 }
    const parts = multipart(bucket, variant, fetchSlice, range.ranges, variant.size, type, boundary)
    ctx.waitUntil(parts.done)
    return {
      response: new Response(parts.readable, { status: 206, headers }),
      bytes: range.ranges.reduce((s, r) => s + r.end - r.start + 1, 0),
    }
  }
  headers.set('content-length', String(variant.size))
  const body =
    head || variant.size === 0
      ? null
      : await readVariant(bucket, variant, { start: 0, end: variant.size - 1 }, fetchSlice)
  return {
    response: new Response(body, { status: variant.status, headers }),
    bytes: head ? 0 : variant.size,
  }
}

function edgeResponse(
  request: Request,
  edge: EdgeHit,
  status: string,
): { response: Response; bytes: number } {
  const headers = new Headers(edge.response.headers)
  headers.set('age', String(Math.max(0, edge.age)))
  headers.append('cache-status', status)
  if (
    edge.response.status === 200 &&
    notModified(request.headers, headers.get('etag'), headers.get('last-modified'))
  ) {
    void edge.response.body?.cancel()
    headers.delete('content-length')
    return { response: new Response(null, { status: 304, headers }), bytes: 0 }
  }
  if (request.method === 'HEAD') {
    void edge.response.body?.cancel()
    return { response: new Response(null, { status: edge.response.status, headers }), bytes: 0 }
  }
  return {
    response: new Response(edge.response.body, { status: edge.response.status, headers }),
    bytes: edge.size,
  }
}

/** Serves one request through the tenant's CDN site `name`. */
export async function serveSite(
  request: Request,
  env: Env,
  ctx: ExecutionContext,
  target: { tenant: string; name: string },
  options: SiteServeOptions,
): Promise<Response> {
  refuseLoop(request)
  const site: CreateSiteInput = await siteSettings(env, target.tenant, target.name)
  const url = new URL(request.url)
  const keyUrl = new URL(`${url.protocol}//${url.host}${options.path}${options.search}`)
  const clientHeaders = new Headers(request.headers)
  if (options.stripAuthorization) clientHeaders.delete('authorization')
  const call: OriginCall = {
    originUrl: site.originUrl,
    originBalancer: site.originBalancer,
    originBucket: site.originBucket,
    tenant: target.tenant,
    host: keyUrl.host.toLowerCase(),
    path: `${options.path}${options.search}`,
    clientUrl: keyUrl.toString(),
    forwardHeaders: [...forwardHeaders(request, { stripAuthorization: options.stripAuthorization ?? false })],
    clientHeaders: [...clientHeaders],
    method: request.method,
    timeoutMs: site.originTimeoutMs,
  }
  const sites = siteStub(env, target.tenant, target.name)
  if (site.originBucket && (await bucketAccess(env, target.tenant, site.originBucket)) !== 'public-read') {
    // Nothing is delivered, from any tier, once the bucket is no longer public-read.
    const problem = problemResponse(
      new AppError('forbidden', `The bucket "${site.originBucket}" of this site is not public-read.`),
      url.pathname,
    )
    problem.headers.append('cache-status', cacheStatus({ detail: 'bucket not public-read' }))
    return problem
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    const answer = await callOrigin(env, ctx, call, undefined, request.body)
    const bypass = cacheStatus({ fwd: 'bypass', detail: 'method' })
    if (answer.kind === 'failed') return failureResponse(answer.status, answer.detail, url.pathname, bypass)
    const { response } = answer
    if (invalidates(request.method, response.status)) {
      const urls = [keyUrl.toString()]
      for (const name of ['location', 'content-location']) {
        const value = response.headers.get(name)
        const related = value ? new URL(value, keyUrl) : undefined
        if (related && related.host === keyUrl.host) urls.push(related.toString())
      }
      await sites.purge(
        urls.map((value) => ({ kind: 'url' as const, value })),
        false,
      )
    }
    const headers = withoutHopByHop(response.headers)
    headers.append(
      'cache-status',
      cacheStatus({ fwd: 'bypass', fwdStatus: response.status, detail: 'method' }),
    )
    return new Response(response.body, { status: response.status, headers })
  }
  const key = cacheKey(keyUrl, request.headers, site.cacheKey)
  const keyHash = await sha256Hex(key)
  const tier = { tenant: target.tenant, site: target.name, keyHash }
  const edge = await edgeLookup(env, sites, tier, request)
  if (edge) {
    const { response, bytes } = edgeResponse(
      request,
      edge,
      cacheStatus({ hit: true, ttl: edge.ttl, key, detail: 'edge' }),
    )
    ctx.waitUntil(sites.observe({ key, hit: true, bytes, originRequest: false, originError: false }))
    return response
  }
  const stub = objectStub(env.CDN_KEYS, target.tenant, 'cdn-key', `${target.name}:${keyHash}`)
  const keyCall: KeyCall = {
    ...call,
    site: target.name,
    key,
    requestHeaders: [...clientHeaders],
    policy: { defaultTtlSeconds: site.defaultTtlSeconds, cacheEverything: site.cacheEverything },
    sliceBytes: site.sliceBytes,
  }
  let answer = (await stub.serve(keyCall)) as WireAnswer
  let status = cacheStatus({ ...answer.status, key })
  let result: { response: Response; bytes: number }
  if (answer.kind === 'variant') {
    const respond = (variant: Variant, age: number) =>
      variantResponse(env, ctx, request, variant, age, status, (index) =>
        stub.fetchSlice(keyCall, variant, index),
      )
    try {
      result = await respond(answer.variant, answer.age)
    } catch (error) {
      if (!(error instanceof SliceUnavailable)) throw error
      if (error.reason === 'failed') return failureResponse(502, error.message, url.pathname, status)
      // The origin has another version: the variant was dropped, so this fills the key again.
      answer = (await stub.serve(keyCall)) as WireAnswer
      status = cacheStatus({ ...answer.status, key })
      if (answer.kind !== 'variant') return failureResponse(502, error.message, url.pathname, status)
      result = await respond(answer.variant, answer.age)
    }
    for (const cookie of answer.setCookie ?? []) result.response.headers.append('set-cookie', cookie)
    const ttl = answer.status.ttl ?? 0
    if (ttl > 0 && answer.status.detail !== 'stale-if-error')
      ctx.waitUntil(edgeStore(env, tier, answer.variant, ttl))
  } else if (answer.kind === 'passed') {
    if (request.method === 'HEAD') await answer.body?.cancel()
    const headers = withoutHopByHop(new Headers(answer.headers))
    headers.append('cache-status', status)
    result = {
      response: new Response(request.method === 'HEAD' ? null : answer.body, {
        status: answer.httpStatus,
        headers,
      }),
      bytes: Number(headers.get('content-length') ?? 0),
    }
  } else {
    result = { response: failureResponse(answer.httpStatus, answer.detail, url.pathname, status), bytes: 0 }
  }
  const hit = answer.kind === 'variant' && answer.status.hit === true
  ctx.waitUntil(
    sites.observe({
      key,
      hit,
      bytes: result.bytes,
      originRequest: answer.kind === 'variant' ? answer.originRequest : true,
      originError: answer.kind === 'error' || answer.originError,
    }),
  )
  return result.response
}

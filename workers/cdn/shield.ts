/**
 * The shield's answer for one request of a key, run inside the key's object: use a stored
 * variant (fresh; stale while revalidating in the background; stale on an origin error
 * within stale-if-error), revalidate it with a conditional request, or fill from the origin
 * (collapsed with every concurrent miss of the key). The caller turns the answer into the
 * client's response (body from the bucket, Range, HEAD, Age, Cache-Status).
 */

import { type Usability, usability } from './freshness'
import type { OriginAnswer } from './origin'
import type { FillResult, KeyCall, Variant } from './variant'

/** What the shield needs of the key's object (object.ts `CdnKey`). */
export interface KeyHost {
  variants(): Variant[]
  match(requestHeaders: Array<[string, string]>): Variant | undefined
  purgeEffect(call: KeyCall, variant: Variant): Promise<'none' | 'soft' | 'hard'>
  fill(call: KeyCall, conditional?: Variant): Promise<FillResult>
  fits(result: FillResult, requestHeaders: Array<[string, string]>): boolean
  isFilling(): boolean
  origin(call: KeyCall): Promise<OriginAnswer>
  refresh(call: KeyCall, variant: Variant): void
}

export interface CacheStatusFields {
  hit?: boolean
  fwd?: 'miss' | 'stale' | 'request' | 'uri-miss' | 'vary-miss' | 'bypass'
  fwdStatus?: number
  stored?: boolean
  ttl?: number
  detail?: string
}

export type KeyAnswer =
  | {
      kind: 'variant'
      variant: Variant
      age: number
      status: CacheStatusFields
      originRequest: boolean
      originError: boolean
      /** The origin's `Set-Cookie`, for the one request that reached it (a collapsed waiter gets none). */
      setCookie?: string[]
    }
  | { kind: 'response'; response: Response; status: CacheStatusFields; originError: boolean }
  | { kind: 'error'; httpStatus: 502 | 504; detail: string; status: CacheStatusFields }

function fromVariant(
  variant: Variant,
  now: number,
  requestHeaders: Headers,
  status: CacheStatusFields,
  origin: { request: boolean; error: boolean },
): KeyAnswer {
  const use = usability(new Headers(variant.headers), variant, requestHeaders, now)
  return {
    kind: 'variant',
    variant,
    age: use.age,
    status: { ttl: use.ttl, ...status },
    originRequest: origin.request,
    originError: origin.error,
  }
}

/**
 * RFC 9211 `fwd`: `request` when the stored response was fresh but the request's directives
 * (no-cache, max-age, min-fresh) refused it; `stale` when it was stale; `miss` when a purge
 * removed it; `vary-miss` when other variants of the key are stored; else `uri-miss`.
 */
function forwardReason(
  variant: Variant | undefined,
  use: Usability | undefined,
  soft: boolean,
  purged: boolean,
  otherVariants: boolean,
): NonNullable<CacheStatusFields['fwd']> {
  if (variant && use) {
    const unasked = usability(new Headers(variant.headers), variant, new Headers(), Date.now(), soft)
    return unasked.use === 'fresh' ? 'request' : 'stale'
  }
  if (purged) return 'miss'
  return otherVariants ? 'vary-miss' : 'uri-miss'
}

export async function serveKey(host: KeyHost, call: KeyCall): Promise<KeyAnswer> {
  const requestHeaders = new Headers(call.requestHeaders)
  let variant = host.match(call.requestHeaders)
  let soft = false
  /** A stored response was found but a hard purge removed it. */
  let purged = false
  if (variant) {
    const effect = await host.purgeEffect(call, variant)
    purged = effect === 'hard'
    if (purged) variant = undefined
    soft = effect === 'soft'
  }
  const known = host.variants()
  let use: Usability | undefined
  if (variant) {
    use = usability(new Headers(variant.headers), variant, requestHeaders, Date.now(), soft)
    if (use.use === 'fresh') {
      return {
        kind: 'variant',
        variant,
        age: use.age,
        status: { hit: true, ttl: use.ttl },
        originRequest: false,
        originError: false,
      }
    }
    if (use.use === 'stale-while-revalidate') {
      host.refresh(call, variant)
      return {
        kind: 'variant',
        variant,
        age: use.age,
        status: { hit: true, ttl: use.ttl, detail: 'stale-while-revalidate' },
        originRequest: false,
        originError: false,
      }
    }
  }
  const initiator = !host.isFilling()
  const result: FillResult = await host.fill(call, variant)
  const now = Date.now()
  const fwd = forwardReason(variant, use, soft, purged, known.length > 0)
  if (result.kind === 'stored' && host.fits(result, call.requestHeaders)) {
    const detail = initiator ? undefined : 'collapsed'
    const answer = fromVariant(
      result.variant,
      now,
      requestHeaders,
      { fwd, fwdStatus: result.fwdStatus, stored: result.fwdStatus !== 304 || undefined, detail },
      {
        request: initiator,
        error: false,
      },
    )
    return initiator && result.setCookie?.length && answer.kind === 'variant'
      ? { ...answer, setCookie: result.setCookie }
      : answer
  }
  const failed =
    result.kind === 'error' ||
    (result.kind === 'pass' && result.answer.kind === 'ok' && result.answer.response.status >= 500)
  if (failed && variant && use && use.use === 'revalidate' && use.staleIfErrorUntil >= 0) {
    if (result.kind === 'pass' && result.answer.kind === 'ok') await result.answer.response.body?.cancel()
    const fwdStatus =
      result.kind === 'error'
        ? result.status
        : result.kind === 'pass' && result.answer.kind === 'ok'
          ? result.answer.response.status
          : 502
    return fromVariant(
      variant,
      now,
      requestHeaders,
      { hit: true, fwd: 'stale', fwdStatus, detail: 'stale-if-error' },
      { request: initiator, error: true },
    )
  }
  if (result.kind === 'error')
    return {
      kind: 'error',
      httpStatus: result.status,
      detail: result.detail,
      status: { fwd, detail: 'origin error' },
    }
  if (result.kind === 'pass' && initiator && result.answer.kind === 'ok') {
    const response = result.answer.response
    return {
      kind: 'response',
      response,
      status: { fwd, fwdStatus: response.status },
      originError: response.status >= 500,
    }
  }
  // A waiter whose shared fill cannot serve it (not storable, or another variant): its own request.
  const own = await host.origin(call)
  if (own.kind === 'failed')
    return { kind: 'error', httpStatus: own.status, detail: own.detail, status: { fwd } }
  return {
    kind: 'response',
    response: own.response,
    status: { fwd, fwdStatus: own.response.status },
    originError: own.response.status >= 500,
  }
}

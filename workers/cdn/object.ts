/**
 * `CdnKey`: the shield tier and request collapsing for one cache key of one site, named
 * `<tenant>:cdn-key:<site>:<sha256(key)>`. It indexes the key's stored variants (one per
 * `Vary` secondary key) in SQLite; their bodies live in the shared bucket under
 * `cdn/<tenant>/<site>/…`.
 *
 * Collapsing: all misses of the key, from every isolate, reach this one object; while one
 * origin request is in flight the others wait for it and are answered from what it stored,
 * so N concurrent misses make one origin request (a response that may not be stored is
 * not shared: each waiter then asks the origin itself, like Varnish's hit-for-pass).
 * Every stored variant is checked against the site's purge log before it is used.
 *
 * Sliced objects (slices.ts, a site with `sliceBytes`): a fill asks for one slice and stores
 * it; the other slices are fetched when a client first needs them (`fetchSlice`), one origin
 * request per slice however many clients wait for it, and only if the origin still has the
 * variant's version (else the variant is dropped and the caller starts over).
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { objectBucket } from '../platform/ports'
import { objectStub } from '../platform/tenancy'
import { freshenHeaders, freshnessLifetime, secondaryKey, storable } from './freshness'
import { responseTags } from './keys'
import { callOrigin, type OriginAnswer } from './origin'
import { type KeyAnswer, serveKey } from './shield'
import {
  firstSlice,
  parseContentRange,
  sameVersion,
  sliceBounds,
  sliceKey,
  sliceRangeHeader,
  storedKeys,
  wholeHeaders,
} from './slices'
import type { FillResult, KeyCall, SliceResult, Variant } from './variant'

declare global {
  namespace Cloudflare {
    interface Env {
      CDN_KEYS: DurableObjectNamespace<CdnKey>
    }
  }
}

/** Bodies without a Content-Length are read whole to store them; above this they are not stored. */
export const MAX_UNSIZED_BODY_BYTES = 16 * 1024 * 1024

export type WireAnswer =
  | Exclude<KeyAnswer, { kind: 'response' }>
  | (Omit<Extract<KeyAnswer, { kind: 'response' }>, 'response' | 'kind'> & {
      kind: 'passed'
      httpStatus: number
      headers: Array<[string, string]>
      body: ReadableStream | null
    })

export class CdnKey extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private filling: Promise<FillResult> | undefined
  private readonly sliceFills = new Map<string, Promise<SliceResult>>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec('CREATE TABLE IF NOT EXISTS variants (secondary TEXT PRIMARY KEY, data TEXT NOT NULL)')
    })
  }

  variants(): Variant[] {
    return this.sql
      .exec<{ data: string }>('SELECT data FROM variants')
      .toArray()
      .map((r) => JSON.parse(r.data) as Variant)
  }

  /** The stored variant matching these request headers, if any. */
  match(requestHeaders: Array<[string, string]>): Variant | undefined {
    const headers = new Headers(requestHeaders)
    return this.variants().find((v) => v.secondary === secondaryKey(v.vary, headers))
  }

  /** Whether the site's purges since it was stored leave a variant usable, stale or gone. */
  async purgeEffect(call: KeyCall, variant: Variant): Promise<'none' | 'soft' | 'hard'> {
    const site = objectStub(this.env.CDN_SITES, call.tenant, 'cdn-site', call.site)
    const effect = await site.effect({
      host: variant.host,
      path: variant.path,
      tags: variant.tags,
      seq: variant.seq,
    })
    if (effect === 'hard') this.drop(variant)
    return effect
  }

  drop(variant: Variant): void {
    const row = this.variants().find((v) => v.secondary === variant.secondary)
    if (row?.bodyKey === variant.bodyKey)
      this.sql.exec('DELETE FROM variants WHERE secondary = ?', variant.secondary)
    this.ctx.waitUntil(deleteKeys(this.env, variant))
  }

  /**
   * One origin request for this key at a time: concurrent callers share the running fill.
   * `conditional` revalidates a stored variant (a 304 refreshes its headers).
   */
  fill(call: KeyCall, conditional?: Variant): Promise<FillResult> {
    if (this.filling) return this.filling
    const running = this.fillOnce(call, conditional).finally(() => {
      if (this.filling === running) this.filling = undefined
    })
    this.filling = running
    return running
  }

  /** Whether this caller may use a shared fill's stored variant (its Vary matches). */
  fits(result: FillResult, requestHeaders: Array<[string, string]>): boolean {
    return (
      result.kind === 'stored' &&
      result.variant.secondary === secondaryKey(result.variant.vary, new Headers(requestHeaders))
    )
  }

  private async fillOnce(call: KeyCall, conditional: Variant | undefined): Promise<FillResult> {
    const site = objectStub(this.env.CDN_SITES, call.tenant, 'cdn-site', call.site)
    const seq = await site.sequence()
    const validators: Record<string, string> = {}
    const stored = conditional ? new Headers(conditional.headers) : undefined
    const etag = stored?.get('etag')
    const lastModified = stored?.get('last-modified')
    if (etag) validators['if-none-match'] = etag
    else if (lastModified) validators['if-modified-since'] = lastModified
    const requestTime = Date.now()
    const slice = call.sliceBytes ?? undefined
    let first = slice ? firstSlice(new Headers(call.requestHeaders).get('range'), slice) : 0
    const ask = (index: number) =>
      slice ? { ...validators, range: sliceRangeHeader(index, slice) } : validators
    let answer = await callOrigin(this.env, this.ctx, call, ask(first))
    if (first > 0 && answer.kind === 'ok' && answer.response.status === 416) {
      await answer.response.body?.cancel()
      first = 0
      answer = await callOrigin(this.env, this.ctx, call, ask(0))
    }
    const responseTime = Date.now()
    if (answer.kind === 'failed') return { kind: 'error', status: answer.status, detail: answer.detail }
    let { response } = answer
    if (conditional && stored && response.status === 304) {
      await response.body?.cancel()
      const headers = freshenHeaders(stored, response.headers)
      const variant: Variant = {
        ...conditional,
        headers: [...headers],
        requestTime,
        responseTime,
        lifetime: freshnessLifetime(conditional.status, headers, call.policy) ?? 0,
        seq,
      }
      this.save(variant)
      return { kind: 'stored', variant, fwdStatus: 304 }
    }
    let status = response.status
    let headers = response.headers
    /** The slice this body is, when the object is stored in slices. */
    let sliceIndex: number | undefined
    if (slice && response.status === 206) {
      const range = parseContentRange(response.headers.get('content-range'))
      const bounds = range?.total ? sliceBounds(first, slice, range.total) : undefined
      if (!range?.total || range.start !== bounds?.start || range.end !== bounds?.end) {
        // Not a slice this object can be built from (unknown length, other bounds): ask for it whole.
        await response.body?.cancel()
        const whole = await callOrigin(this.env, this.ctx, call, validators)
        if (whole.kind === 'failed') return { kind: 'error', status: whole.status, detail: whole.detail }
        response = whole.response
        status = response.status
        headers = response.headers
      } else {
        status = 200
        headers = wholeHeaders(response.headers, range.total)
        if (range.total > slice) sliceIndex = first
      }
    }
    const requestHeaders = new Headers(call.requestHeaders)
    const decision = storable({ method: 'GET', headers: requestHeaders }, { status, headers }, call.policy)
    if (!decision.store) {
      if (status === response.status) return { kind: 'pass', answer: { kind: 'ok', response } }
      // A slice is not the client's answer: its own request.
      await response.body?.cancel()
      return { kind: 'pass', answer: await callOrigin(this.env, this.ctx, call, undefined) }
    }
    const length = Number(headers.get('content-length') ?? Number.NaN)
    let body: ReadableStream | ArrayBuffer | null = response.body
    let size = length
    if (!Number.isFinite(length)) {
      const buffer = await response.arrayBuffer()
      if (buffer.byteLength > MAX_UNSIZED_BODY_BYTES) {
        return { kind: 'pass', answer: { kind: 'ok', response: new Response(buffer, response) } }
      }
      body = buffer
      size = buffer.byteLength
    }
    const vary = headers.get('vary') ?? ''
    const bodyKey = `cdn/${call.tenant}/${call.site}/${crypto.randomUUID()}`
    await objectBucket(this.env).put(
      sliceIndex === undefined ? bodyKey : sliceKey(bodyKey, sliceIndex),
      body ?? new ArrayBuffer(0),
      { httpMetadata: { contentType: headers.get('content-type') ?? 'application/octet-stream' } },
    )
    const variant: Variant = {
      secondary: secondaryKey(vary, requestHeaders),
      vary,
      status,
      headers: [...headers].filter(([name]) => name !== 'set-cookie'),
      requestTime,
      responseTime,
      lifetime: decision.lifetime ?? 0,
      bodyKey,
      size,
      seq,
      tags: responseTags(headers),
      host: call.host,
      path: call.path,
      ...(sliceIndex === undefined ? {} : { slice }),
    }
    const previous = this.variants().find((v) => v.secondary === variant.secondary)
    this.save(variant)
    if (previous && previous.bodyKey !== bodyKey) this.ctx.waitUntil(deleteKeys(this.env, previous))
    return { kind: 'stored', variant, fwdStatus: response.status, setCookie: headers.getSetCookie() }
  }

  /**
   * Stores slice `index` of `variant` from the origin, once however many callers ask at a
   * time. 'changed' when the variant is no longer the stored one or the origin now has
   * another version (the variant is then dropped, so the next request refills the key).
   */
  fetchSlice(call: KeyCall, variant: Variant, index: number): Promise<SliceResult> {
    const id = sliceKey(variant.bodyKey, index)
    const running = this.sliceFills.get(id)
    if (running) return running
    const fill = this.fillSlice(call, variant.bodyKey, index).finally(() => this.sliceFills.delete(id))
    this.sliceFills.set(id, fill)
    return fill
  }

  private async fillSlice(call: KeyCall, bodyKey: string, index: number): Promise<SliceResult> {
    const current = this.variants().find((v) => v.bodyKey === bodyKey)
    if (!current?.slice) return 'changed'
    const bucket = objectBucket(this.env)
    const key = sliceKey(bodyKey, index)
    if (await bucket.head(key)) return 'stored'
    const slice = current.slice
    const ask = () => callOrigin(this.env, this.ctx, call, { range: sliceRangeHeader(index, slice) })
    // A Range GET is idempotent: one retry covers a reused connection the origin had just closed.
    let answer = await ask()
    if (answer.kind === 'failed') answer = await ask()
    if (answer.kind === 'failed') {
      console.warn(JSON.stringify({ level: 'warn', block: 'cdn', slice: index, detail: answer.detail }))
      return 'failed'
    }
    const { response } = answer
    const range = parseContentRange(response.headers.get('content-range'))
    const bounds = sliceBounds(index, current.slice, current.size)
    const fits =
      response.status === 206 &&
      range?.total === current.size &&
      range.start === bounds.start &&
      range.end === bounds.end &&
      sameVersion(new Headers(current.headers), response.headers)
    if (!fits) {
      await response.body?.cancel()
      if (response.status >= 500) return 'failed'
      this.drop(current)
      return 'changed'
    }
    await bucket.put(key, response.body ?? new ArrayBuffer(0))
    if (!this.variants().some((v) => v.bodyKey === bodyKey)) {
      await bucket.delete(key)
      return 'changed'
    }
    return 'stored'
  }

  private save(variant: Variant): void {
    this.sql.exec(
      'INSERT INTO variants (secondary, data) VALUES (?, ?) ON CONFLICT(secondary) DO UPDATE SET data = excluded.data',
      variant.secondary,
      JSON.stringify(variant),
    )
  }

  isFilling(): boolean {
    return this.filling !== undefined
  }

  /** A request to the origin of its own, not collapsed and not stored (a pass). */
  origin(call: KeyCall): Promise<OriginAnswer> {
    return callOrigin(this.env, this.ctx, call, undefined)
  }

  /** The shield's answer for one request (shield.ts); a passed response travels as status, headers and a stream. */
  async serve(call: KeyCall): Promise<WireAnswer> {
    const answer = await serveKey(this, call)
    if (answer.kind !== 'response') return answer
    const { response, ...rest } = answer
    return {
      ...rest,
      kind: 'passed',
      httpStatus: response.status,
      headers: [...response.headers],
      body: response.body,
    }
  }

  /** Background revalidation (stale-while-revalidate); shares a running fill. */
  refresh(call: KeyCall, variant: Variant): void {
    this.ctx.waitUntil(
      this.fill(call, variant).then(
        () => undefined,
        () => undefined,
      ),
    )
  }
}

/** Deletes every stored object of a variant's body (all its slices). */
async function deleteKeys(env: Env, variant: Variant): Promise<void> {
  const keys = storedKeys(variant)
  for (let i = 0; i < keys.length; i += 1000) await objectBucket(env).delete(keys.slice(i, i + 1000))
}

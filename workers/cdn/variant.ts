/** A cache key's stored variant, the call that asks the key's object for it, and what a fill returns. */

import type { SiteCachePolicy } from './freshness'
import type { OriginAnswer, OriginCall } from './origin'

export interface Variant {
  secondary: string
  vary: string
  status: number
  headers: Array<[string, string]>
  requestTime: number
  responseTime: number
  lifetime: number
  bodyKey: string
  size: number
  seq: number
  tags: string[]
  host: string
  path: string
  /** Slice size when the body is stored in slices under `bodyKey` (slices.ts); absent when whole. */
  slice?: number
}

/** What fetching one slice did: stored (or already there), the origin changed version, or it failed. */
export type SliceResult = 'stored' | 'changed' | 'failed'

export type FillResult =
  | {
      kind: 'stored'
      variant: Variant
      fwdStatus: number
      /** The origin's `Set-Cookie` fields: for the request that reached it only, never stored. */
      setCookie?: string[]
    }
  | { kind: 'pass'; answer: OriginAnswer }
  | { kind: 'error'; status: 502 | 504; detail: string }

export interface KeyCall extends OriginCall {
  tenant: string
  site: string
  key: string
  /** The client's request headers (Vary, Cache-Control, conditionals). */
  requestHeaders: Array<[string, string]>
  policy: SiteCachePolicy
  /** The site's slice size (slices.ts), or null for whole objects. */
  sliceBytes: number | null
}

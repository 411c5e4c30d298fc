/** Schemas of the platform routes: health, block listing, tokens. */
import * as v from 'valibot'

export const Health = v.object({ status: v.literal('ok') })

export const BlockList = v.object({
  blocks: v.array(
    v.object({ name: v.string(), version: v.string(), path: v.string(), description: v.string() }),
  ),
})

/** A tenant: 1–63 lowercase letters, digits and "-", not starting or ending with "-". */
export const TENANT_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
/** A scope is `admin` or `<block>:read` / `<block>:write`. */
export const SCOPE_PATTERN = /^(?:admin|[a-z][a-z0-9-]{0,31}:(?:read|write))$/

export const TenantName = v.pipe(
  v.string(),
  v.regex(TENANT_PATTERN, '1–63 lowercase letters, digits and "-", not starting or ending with "-"'),
)

export const Scope = v.pipe(v.string(), v.regex(SCOPE_PATTERN, '"admin" or "<block>:read" / "<block>:write"'))

export const MintTokenRequest = v.object({
  tenant: TenantName,
  scopes: v.pipe(v.array(Scope), v.minLength(1, 'At least one scope'), v.maxLength(64)),
  /** Lifetime in seconds; capped by TOKEN_MAX_TTL_SECONDS. */
  ttlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(60), v.maxValue(365 * 24 * 3600)), 3600),
})

export const MintedToken = v.object({
  token: v.string(),
  tokenType: v.literal('Bearer'),
  tokenId: v.string(),
  tenant: v.string(),
  scopes: v.array(v.string()),
  expiresAt: v.number(),
})

export const TokenIdParam = v.object({ tokenId: v.pipe(v.string(), v.uuid('A token id (UUID)')) })

export const Revoked = v.object({ tokenId: v.string(), revoked: v.literal(true) })

/** A path a stream ticket opens: an API path under `/v1/`, without query or fragment. */
export const STREAM_PATH_PATTERN = /^\/v1\/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{1,500}$/

export const StreamTicketRequest = v.object({
  /** The one path (GET, WebSocket or Server-Sent Events) the ticket opens. */
  path: v.pipe(
    v.string(),
    v.maxLength(504),
    v.regex(STREAM_PATH_PATTERN, 'A path under /v1/ without query or fragment'),
  ),
  /** Lifetime in seconds: the ticket must be used within it. */
  ttlSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(60)), 30),
})

export const StreamTicket = v.object({
  ticket: v.string(),
  path: v.string(),
  /** Seconds since the epoch. */
  expiresAt: v.number(),
  scopes: v.array(v.string()),
})

/** `?ticket=`: a stream ticket in place of `Authorization` (every stream route accepts it). */
export const StreamTicketQuery = v.object({
  ticket: v.optional(v.pipe(v.string(), v.maxLength(4096))),
})

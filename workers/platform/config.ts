/**
 * Every setting of the platform in one typed place, read from the Worker `env` once per
 * env object and validated; a bad setting fails loudly at the first request instead of
 * misbehaving later. The README's configuration table mirrors `SETTINGS`.
 */
import * as v from 'valibot'
import { parseDurationMs } from '../../schemas/common'
import { TENANT_PATTERN } from '../../schemas/platform'
import type { Env } from './env'

/** A whole-number setting read from a string variable, with its default and bounds. */
export const positiveInteger = (fallback: number, min: number, max: number) =>
  v.pipe(
    v.optional(v.string(), String(fallback)),
    v.transform(Number),
    v.number(),
    v.integer(),
    v.minValue(min),
    v.maxValue(max),
  )

/** A rate limit setting: `limit` requests per `periodMs` (bursts up to `limit`), or `'off'`. */
export type RateSetting = { limit: number; periodMs: number } | 'off'

/** `"6000/60s"` or `"off"`; limit 1–1,000,000, period 1 ms–7 days (the rate limiter's bounds). */
function parseRate(text: string): RateSetting | undefined {
  if (text === 'off') return 'off'
  const [limitText = '', periodText = '', ...rest] = text.split('/')
  const limit = /^\d{1,7}$/.test(limitText) ? Number(limitText) : 0
  const periodMs = parseDurationMs(periodText) ?? 0
  const valid =
    rest.length === 0 && limit >= 1 && limit <= 1_000_000 && periodMs >= 1 && periodMs <= 604_800_000
  return valid ? { limit, periodMs } : undefined
}

const RATE_MESSAGE = 'a rate like "6000/60s" (limit 1–1000000 per 1ms–7d) or "off"'

const rate = (fallback: string) =>
  v.pipe(
    v.optional(v.string(), fallback),
    v.rawTransform(({ dataset, addIssue, NEVER }) => {
      const parsed = parseRate(dataset.value)
      if (parsed === undefined) {
        addIssue({ message: `Expected ${RATE_MESSAGE}` })
        return NEVER
      }
      return parsed
    }),
  )

const rateOverrides = v.pipe(
  v.optional(v.string(), '{}'),
  v.parseJson(undefined, 'Expected a JSON object of tenant → rate'),
  v.check((value) => !Array.isArray(value), 'Expected a JSON object of tenant → rate'),
  v.record(v.pipe(v.string(), v.regex(TENANT_PATTERN, 'Keys must be tenant names')), v.string()),
  v.rawTransform(({ dataset, addIssue, NEVER }) => {
    const overrides: Record<string, RateSetting> = {}
    for (const [tenant, text] of Object.entries(dataset.value)) {
      const parsed = parseRate(text)
      if (parsed === undefined) {
        addIssue({ message: `Tenant "${tenant}": expected ${RATE_MESSAGE}` })
        return NEVER
      }
      overrides[tenant] = parsed
    }
    return overrides
  }),
)

const SETTINGS = v.object({
  JWT_SECRET: v.pipe(v.string('JWT_SECRET is not set'), v.minLength(32, 'JWT_SECRET needs 32+ characters')),
  ROOT_KEY: v.pipe(v.string('ROOT_KEY is not set'), v.minLength(16, 'ROOT_KEY needs 16+ characters')),
  LIBSQL_URL: v.optional(v.pipe(v.string(), v.url()), 'http://127.0.0.1:8080'),
  LIBSQL_AUTH_TOKEN: v.optional(v.string()),
  TOKEN_MAX_TTL_SECONDS: positiveInteger(30 * 24 * 3600, 60, 365 * 24 * 3600),
  BODY_LIMIT_BYTES: positiveInteger(1024 * 1024, 1024, 100 * 1024 * 1024),
  REVOCATION_CACHE_SECONDS: positiveInteger(5, 0, 3600),
  GATEWAY_TENANT_LIMIT: rate('6000/60s'),
  GATEWAY_TENANT_OVERRIDES: rateOverrides,
  GATEWAY_IP_LIMIT: rate('600/60s'),
})

export interface Config {
  jwtSecret: string
  rootKey: string
  libsqlUrl: string
  libsqlAuthToken: string | undefined
  /** Longest lifetime a minted token may have, in seconds. */
  tokenMaxTtlSeconds: number
  /** Default request body limit, in bytes (routes may set their own). */
  bodyLimitBytes: number
  /** How long an isolate trusts that a token id is not revoked, in seconds. */
  revocationCacheSeconds: number
  /** Requests each tenant may make to `/v1` routes (a valid bearer token); `'off'` disables. */
  gatewayTenantLimit: RateSetting
  /** Per-tenant replacements of `gatewayTenantLimit`. */
  gatewayTenantOverrides: Readonly<Record<string, RateSetting>>
  /** Requests each client IP may make to `/v1` routes without a valid bearer token. */
  gatewayIpLimit: RateSetting
}

const configByEnv = new WeakMap<object, Config>()

export function readConfig(env: Env): Config {
  const cached = configByEnv.get(env)
  if (cached) return cached
  const result = v.safeParse(SETTINGS, env)
  if (!result.success) {
    const problems = result.issues.map((issue) => `${v.getDotPath(issue) ?? '?'}: ${issue.message}`)
    throw new Error(`Invalid configuration: ${problems.join('; ')}`)
  }
  const s = result.output
  const config: Config = {
    jwtSecret: s.JWT_SECRET,
    rootKey: s.ROOT_KEY,
    libsqlUrl: s.LIBSQL_URL,
    libsqlAuthToken: s.LIBSQL_AUTH_TOKEN || undefined,
    tokenMaxTtlSeconds: s.TOKEN_MAX_TTL_SECONDS,
    bodyLimitBytes: s.BODY_LIMIT_BYTES,
    revocationCacheSeconds: s.REVOCATION_CACHE_SECONDS,
    gatewayTenantLimit: s.GATEWAY_TENANT_LIMIT,
    gatewayTenantOverrides: s.GATEWAY_TENANT_OVERRIDES,
    gatewayIpLimit: s.GATEWAY_IP_LIMIT,
  }
  configByEnv.set(env, config)
  return config
}

/**
 * The IETF rate-limit header fields (draft-ietf-httpapi-ratelimit-headers, the structured-field
 * form): `RateLimit-Policy` describes each quota policy (`q` quota units per `w` seconds) and
 * `RateLimit` its live state (`r` units remaining, `t` seconds until the quota is fully back).
 * Both are structured-field Lists, so the gateway's policy and a checked policy can appear
 * side by side, e.g. `RateLimit: "gateway:tenant";r=5999;t=1, "api";r=42;t=30`.
 */
import { BUCKET_ALGORITHMS, capacityOf, type Decision, type RatePolicy } from './decision'

/** A structured-field String (RFC 9651 §3.3.3): quoted, with `\` and `"` escaped. */
function sfString(text: string): string {
  return `"${text.replace(/[\\"]/g, (char) => `\\${char}`)}"`
}

/**
 * The window of the quota, in whole seconds (at least 1): the period for the window
 * algorithms; for the bucket ones the time the bucket takes to refill completely, so that
 * `q` units per `w` seconds is both the largest burst and the long-run rate.
 */
export function quotaWindowSeconds(policy: RatePolicy): number {
  const windowMs = BUCKET_ALGORITHMS.has(policy.algorithm)
    ? (capacityOf(policy) * policy.periodMs) / policy.limit
    : policy.periodMs
  return Math.max(1, Math.ceil(windowMs / 1000))
}

/** One member of `RateLimit-Policy`: `"name";q=100;w=60`. */
export function quotaPolicyItem(name: string, policy: RatePolicy): string {
  return `${sfString(name)};q=${capacityOf(policy)};w=${quotaWindowSeconds(policy)}`
}

/** One member of `RateLimit`: `"name";r=42;t=30`. */
export function quotaStateItem(name: string, decision: Decision): string {
  return `${sfString(name)};r=${decision.remaining};t=${Math.ceil(decision.resetAfterMs / 1000)}`
}

/** `Retry-After` in whole seconds, rounded up so a client never retries too early. */
export function retryAfterSeconds(retryAfterMs: number): number {
  return Math.max(1, Math.ceil(retryAfterMs / 1000))
}

/** The headers describing one policy's decision; `Retry-After` only on a denial. */
export function rateLimitHeaders(
  name: string,
  policy: RatePolicy,
  decision: Decision,
): Record<string, string> {
  const headers: Record<string, string> = {
    'RateLimit-Policy': quotaPolicyItem(name, policy),
    RateLimit: quotaStateItem(name, decision),
  }
  if (!decision.allowed) headers['Retry-After'] = String(retryAfterSeconds(decision.retryAfterMs))
  return headers
}

/**
 * Bucket CORS as S3 applies it: the first rule whose origins (with one `*` wildcard each)
 * and methods match, and whose allowed headers (wildcards too) cover every requested header,
 * answers a preflight and decorates the actual response. No matching rule: no CORS headers
 * (a preflight is refused with 403 AccessDenied).
 */
export interface CorsRule {
  id?: string | undefined
  allowedMethods: string[]
  allowedOrigins: string[]
  allowedHeaders: string[]
  exposeHeaders: string[]
  maxAgeSeconds?: number | undefined
}

function wildcard(pattern: string, value: string): boolean {
  const star = pattern.indexOf('*')
  if (star < 0) return pattern.toLowerCase() === value.toLowerCase()
  const head = pattern.slice(0, star).toLowerCase()
  const tail = pattern.slice(star + 1).toLowerCase()
  const lower = value.toLowerCase()
  return lower.length >= head.length + tail.length && lower.startsWith(head) && lower.endsWith(tail)
}

export function matchCors(
  rules: CorsRule[] | undefined,
  origin: string,
  method: string,
  requestHeaders: string[] = [],
): CorsRule | undefined {
  return rules?.find(
    (rule) =>
      rule.allowedOrigins.some((o) => wildcard(o, origin)) &&
      rule.allowedMethods.includes(method) &&
      requestHeaders.every((h) => rule.allowedHeaders.some((a) => wildcard(a, h))),
  )
}

/** The headers a matching rule adds to a preflight or an actual response. */
export function corsHeaders(
  rule: CorsRule,
  origin: string,
  preflight: { method: string; headers: string[] } | undefined,
): Record<string, string> {
  const anyOrigin = rule.allowedOrigins.includes('*')
  const headers: Record<string, string> = {
    'access-control-allow-origin': anyOrigin ? '*' : origin,
    vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
  }
  if (!anyOrigin) headers['access-control-allow-credentials'] = 'true'
  if (preflight) {
    headers['access-control-allow-methods'] = rule.allowedMethods.join(', ')
    if (preflight.headers.length > 0) headers['access-control-allow-headers'] = preflight.headers.join(', ')
    if (rule.maxAgeSeconds !== undefined) headers['access-control-max-age'] = String(rule.maxAgeSeconds)
  }
  if (rule.exposeHeaders.length > 0) headers['access-control-expose-headers'] = rule.exposeHeaders.join(', ')
  return headers
}

/**
 * The operations of the live `/openapi.json`, for tests that cover every route without
 * naming them: each operation with its path and query parameters, its JSON body schema,
 * how it authenticates and whether it is a standard wire (`x-wire`, see
 * workers/platform/openapi.ts), plus helpers to fill a path and read a tenant's listings.
 */
import { call } from '../helpers'

export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  items?: JsonSchema
  [key: string]: unknown
}

export interface Operation {
  method: string
  /** OpenAPI path template, e.g. `/v1/queues/{queue}`. */
  path: string
  pathParams: string[]
  queryParams: string[]
  headerParams: string[]
  body?: JsonSchema
  auth: 'public' | 'bearer' | 'root'
  /** The standard wire it speaks, when it keeps its own error shape. */
  wire?: string
  /** The 200 response has `items`: a listing. */
  listing: boolean
  /** It answers with a stream: a 101 (WebSocket) or a `text/event-stream` 200. */
  stream: boolean
}

interface RawOperation {
  parameters?: Array<{ in: string; name: string }>
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> }
  security?: Array<Record<string, string[]>>
  'x-wire'?: string
  responses?: Record<string, { content?: Record<string, { schema?: JsonSchema }> }>
}

const METHODS = ['get', 'put', 'post', 'patch', 'delete']

export async function liveOperations(): Promise<Operation[]> {
  const { body } = await call<{ paths: Record<string, Record<string, RawOperation>> }>('/openapi.json')
  const operations: Operation[] = []
  for (const [path, item] of Object.entries(body.paths)) {
    for (const method of METHODS) {
      const raw = item[method]
      if (!raw) continue
      const params = (where: string) =>
        (raw.parameters ?? []).filter((p) => p.in === where).map((p) => p.name)
      const security = raw.security ?? []
      const auth = security.length === 0 ? 'public' : 'rootKey' in (security[0] ?? {}) ? 'root' : 'bearer'
      const body = raw.requestBody?.content?.['application/json']?.schema
      const ok = raw.responses?.['200']?.content?.['application/json']?.schema
      operations.push({
        method: method.toUpperCase(),
        path,
        pathParams: [...path.matchAll(/\{([^}]+)\}/g)].map((match) => match[1] ?? ''),
        queryParams: params('query'),
        headerParams: params('header'),
        ...(body ? { body } : {}),
        auth,
        ...(raw['x-wire'] ? { wire: raw['x-wire'] } : {}),
        listing: method === 'get' && ok?.properties?.items !== undefined,
        stream:
          raw.responses?.['101'] !== undefined ||
          raw.responses?.['200']?.content?.['text/event-stream'] !== undefined,
      })
    }
  }
  return operations
}

/** `encodeURIComponent`, except that a lone surrogate is sent as the bytes ED A0 80 (not UTF-8). */
export function encodeComponent(value: string): string {
  return value.replace(/[\s\S]/gu, (char) => {
    try {
      return encodeURIComponent(char)
    } catch {
      return '%ED%A0%80'
    }
  })
}

/** The path with its parameters filled (each value percent-encoded). */
export function fillPath(path: string, values: Record<string, string>, fallback: string): string {
  return path.replace(/\{([^}]+)\}/g, (_, name: string) => encodeComponent(values[name] ?? fallback))
}

/**
 * What a tenant has, as seen through every listing and every read of its fixtures: the
 * JSON of each GET whose path parameters the fixtures fill, minus fields that change with
 * time alone. Two equal snapshots mean nothing the tenant can see changed.
 */
export async function tenantSnapshot(
  operations: Operation[],
  token: string,
  params: Record<string, string>,
  fallback: string,
  /** Only the reads under this path prefix (e.g. one block's `/v1/queues`). */
  prefix = '',
): Promise<Record<string, unknown>> {
  const snapshot: Record<string, unknown> = {}
  const reads = operations.filter(
    (op) =>
      op.method === 'GET' && op.auth === 'bearer' && !op.wire && !isStream(op) && op.path.startsWith(prefix),
  )
  for (const op of reads) {
    const path = fillPath(op.path, params, fallback)
    const { status, body } = await call(path, { token })
    snapshot[path] = { status, body: withoutVolatile(body) }
  }
  return snapshot
}

/** Streams (WebSocket, SSE) are not read whole by a snapshot. */
export function isStream(op: Operation): boolean {
  return op.stream || /\/(live|events|stream|watch|tail)$/.test(op.path)
}

/** Fields that change with the clock alone. */
const VOLATILE = /^(?:at|now|requestId|instance|asOf|serverTime)$|[aA]ge(?:Ms|Seconds)?$/

function withoutVolatile(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutVolatile)
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(
    Object.entries(value)
      .filter(([key]) => !VOLATILE.test(key))
      .map(([key, inner]) => [key, withoutVolatile(inner)]),
  )
}

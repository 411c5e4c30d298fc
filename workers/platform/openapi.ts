/**
 * Route documentation: `describe(...)` attaches a route's summary, tags, required scope,
 * success responses (from valibot schemas) and its problem responses; `openApiDocument`
 * turns the mounted app into one OpenAPI 3.1 document served at `/openapi.json`.
 */
import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Hono } from 'hono'
import { describeRoute, openAPIRouteHandler, type ResponsesWithResolver, resolver } from 'hono-openapi'
import { PROBLEM_CONTENT_TYPE } from './errors'

const PROBLEM_DESCRIPTIONS: Record<number, string> = {
  400: 'Bad input: a problem whose `errors` lists each failing field',
  401: 'Missing, malformed, expired or revoked token',
  403: 'The token lacks the required scope',
  404: 'No such resource',
  405: 'Method not allowed',
  409: 'Conflict with the current state',
  410: 'Gone',
  412: 'Precondition failed',
  413: 'Body over the size limit',
  415: 'Unsupported media type',
  422: 'Well-formed but unprocessable',
  429: 'Rate limited; see Retry-After',
  503: 'Temporarily unavailable',
}

export interface ResponseSpec {
  description: string
  schema?: StandardSchemaV1
  /** Defaults to application/json. */
  mediaType?: string
}

export interface RouteSpec {
  tags: string[]
  summary: string
  description?: string
  /** The scope the route requires (e.g. `queue:write`); implies `auth: 'bearer'`. */
  scope?: string
  /**
   * How the route authenticates, declared as the operation's `security`: `public` (the
   * default without a scope: `security: []`), `bearer` (a token, any scope) or `root`
   * (the root key as a bearer credential).
   */
  auth?: 'public' | 'bearer' | 'root'
  /**
   * A standard wire (`s3`, `redis`, `sqs`, `dns`…) keeps its own error shape, statuses and
   * auth: the operation carries `x-wire: <name>`, and the platform's fuzz test then checks
   * it for 5xx and hangs but not for problem+json bodies.
   */
  wire?: string
  responses: Record<number, ResponseSpec>
  /** Problem statuses the route documents beyond the defaults (400, and 401/403 with a scope). */
  problems?: number[]
}

const problemRef = { $ref: '#/components/schemas/Problem' }

const SECURITY = {
  public: [],
  bearer: [{ bearerAuth: [] }],
  root: [{ rootKey: [] }],
} satisfies Record<NonNullable<RouteSpec['auth']>, Array<Record<string, string[]>>>

export function describe(spec: RouteSpec) {
  const responses: ResponsesWithResolver = {}
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = {
      description: response.description,
      ...(response.schema
        ? { content: { [response.mediaType ?? 'application/json']: { schema: resolver(response.schema) } } }
        : {}),
    }
  }
  const auth = spec.auth ?? (spec.scope ? 'bearer' : 'public')
  const problems = new Set([
    400,
    429,
    ...(auth !== 'public' ? [401] : []),
    ...(spec.scope ? [403] : []),
    ...(spec.problems ?? []),
  ])
  for (const status of [...problems].sort()) {
    responses[String(status)] = {
      description: PROBLEM_DESCRIPTIONS[status] ?? 'Problem',
      content: { [PROBLEM_CONTENT_TYPE]: { schema: problemRef } },
    }
  }
  return describeRoute({
    tags: spec.tags,
    summary: spec.summary,
    ...(spec.description ? { description: spec.description } : {}),
    security: SECURITY[auth],
    ...(spec.scope ? { 'x-required-scope': spec.scope } : {}),
    ...(spec.wire ? { 'x-wire': spec.wire } : {}),
    responses,
  })
}

const PROBLEM_SCHEMA = {
  type: 'object',
  description: 'RFC 9457 problem details',
  required: ['type', 'title', 'status', 'detail'],
  properties: {
    type: { type: 'string', format: 'uri-reference' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    instance: { type: 'string' },
    requestId: { type: 'string' },
    errors: {
      type: 'array',
      items: {
        type: 'object',
        required: ['path', 'message'],
        properties: { path: { type: 'string' }, message: { type: 'string' } },
      },
    },
  },
} as const

export function openApiDocument<A extends Hono>(app: A, version: string) {
  return openAPIRouteHandler(app, {
    documentation: {
      openapi: '3.1.0',
      servers: [{ url: '/', description: 'The origin that serves this document' }],
      info: {
        title: 'edgeblocks',
        version,
        description:
          'The building blocks of distributed systems as services on the edge. Every error is an RFC 9457 problem.',
      },
      components: {
        securitySchemes: {
          bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
          rootKey: {
            type: 'http',
            scheme: 'bearer',
            description: 'The deployment root key (ROOT_KEY), only for minting tokens',
          },
        },
        schemas: { Problem: PROBLEM_SCHEMA as never },
      },
    },
    exclude: ['/openapi.json', '/docs'],
  })
}

/**
 * One error model for the whole platform (RFC 9457 problem details).
 *
 * Every failure a route can report is an `AppError` with a `code` from a closed union;
 * `STATUS_BY_CODE` maps each code to its HTTP status, so adding a code without a status
 * fails to compile. Anything else that is thrown becomes a 500 `internal` problem in one
 * place (`toProblemResponse`), carrying the request id and never a stack trace.
 */
import type { Context } from 'hono'
import { HTTPException } from 'hono/http-exception'
import type { ContentfulStatusCode } from 'hono/utils/http-status'

export type ErrorCode =
  | 'bad_request'
  | 'validation_failed'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'conflict'
  | 'gone'
  | 'precondition_failed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'unprocessable'
  | 'rate_limited'
  | 'internal'
  | 'bad_gateway'
  | 'unavailable'
  | 'timeout'

export const STATUS_BY_CODE: Record<ErrorCode, ContentfulStatusCode> = {
  bad_request: 400,
  validation_failed: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  conflict: 409,
  gone: 410,
  precondition_failed: 412,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable: 422,
  rate_limited: 429,
  internal: 500,
  bad_gateway: 502,
  unavailable: 503,
  timeout: 504,
}

const TITLE_BY_CODE: Record<ErrorCode, string> = {
  bad_request: 'Bad request',
  validation_failed: 'Validation failed',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  not_found: 'Not found',
  method_not_allowed: 'Method not allowed',
  conflict: 'Conflict',
  gone: 'Gone',
  precondition_failed: 'Precondition failed',
  payload_too_large: 'Payload too large',
  unsupported_media_type: 'Unsupported media type',
  unprocessable: 'Unprocessable content',
  rate_limited: 'Too many requests',
  internal: 'Internal server error',
  bad_gateway: 'Bad gateway',
  unavailable: 'Service unavailable',
  timeout: 'Gateway timeout',
}

/** One failing field of a validation error: where it is and what is wrong with it. */
export interface FieldError {
  /** JSON pointer-like path inside the target, e.g. `body/messages/3/delay`. */
  path: string
  message: string
}

export interface AppErrorOptions {
  /** Failing fields, for `validation_failed`. */
  errors?: FieldError[]
  /** Extra response headers, e.g. `Retry-After`, `Allow`, `WWW-Authenticate`. */
  headers?: Record<string, string>
  /** Extra problem members (RFC 9457 extension members). */
  extensions?: Record<string, unknown>
}

/**
 * The error every layer throws. Durable Object RPC keeps only an error's message across
 * the boundary, so the message carries the code and options as JSON behind a marker;
 * `asAppError` rebuilds the same AppError on the Worker side. `detail` is the human text.
 */
export class AppError extends Error {
  readonly code: ErrorCode
  readonly status: ContentfulStatusCode
  readonly detail: string
  readonly errors: FieldError[] | undefined
  readonly headers: Record<string, string>
  readonly extensions: Record<string, unknown>

  constructor(code: ErrorCode, detail: string, options: AppErrorOptions = {}) {
    super(WIRE_MARKER + JSON.stringify({ code, detail, ...options }))
    this.name = 'AppError'
    this.code = code
    this.status = STATUS_BY_CODE[code]
    this.detail = detail
    this.errors = options.errors
    this.headers = { ...options.headers }
    this.extensions = { ...options.extensions }
  }
}

const WIRE_MARKER = 'edgeblocks-app-error:'

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  instance?: string
  requestId?: string
  errors?: FieldError[]
  [extension: string]: unknown
}

export const PROBLEM_CONTENT_TYPE = 'application/problem+json'

export function problemType(code: ErrorCode): string {
  return `urn:edgeblocks:problem:${code}`
}

/** The problem document for an error, without any transport concerns. */
export function toProblem(error: AppError, instance?: string, requestId?: string): Problem {
  const problem: Problem = {
    ...error.extensions,
    type: problemType(error.code),
    title: TITLE_BY_CODE[error.code],
    status: error.status,
    detail: error.detail,
  }
  if (instance !== undefined) problem.instance = instance
  if (requestId !== undefined) problem.requestId = requestId
  if (error.errors !== undefined) problem.errors = error.errors
  return problem
}

/** Maps anything thrown to an AppError; unknown errors become `internal` with a generic detail. */
export function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error
  const fromWire = fromWireMessage(error)
  if (fromWire) return fromWire
  if (error instanceof HTTPException) {
    const code = codeForStatus(error.status)
    const headers: Record<string, string> = {}
    error.getResponse().headers.forEach((value, key) => {
      if (key !== 'content-type' && key !== 'content-length') headers[key] = value
    })
    return new AppError(code, error.message || TITLE_BY_CODE[code], { headers })
  }
  if (isStoreBusy(error)) {
    return new AppError('unavailable', 'The data store is busy with other writes; retry shortly.', {
      headers: { 'retry-after': '1' },
    })
  }
  return new AppError('internal', 'An unexpected error occurred; quote the request id when reporting it.')
}

/**
 * A libSQL statement that gave up waiting for another connection's write lock
 * (`SQLITE_BUSY`, possibly wrapped by drizzle as the `cause`). It did nothing, so the client
 * may retry: a 503 with `Retry-After`, not a 500.
 */
function isStoreBusy(error: unknown): boolean {
  for (let at = error, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) {
    const code = (at as { code?: unknown }).code
    if (typeof code === 'string' && code.startsWith('SQLITE_BUSY')) return true
  }
  return false
}

/**
 * The AppError an error is, or carries in its message (one rebuilt after crossing a
 * Durable Object boundary); undefined for anything else (a crash).
 */
export function expectedAppError(error: unknown): AppError | undefined {
  return error instanceof AppError ? error : fromWireMessage(error)
}

function fromWireMessage(error: unknown): AppError | undefined {
  if (!(error instanceof Error)) return undefined
  const at = error.message.indexOf(WIRE_MARKER)
  if (at < 0) return undefined
  try {
    const { code, detail, ...options } = JSON.parse(error.message.slice(at + WIRE_MARKER.length)) as {
      code: ErrorCode
      detail: string
    } & AppErrorOptions
    return code in STATUS_BY_CODE ? new AppError(code, detail, options) : undefined
  } catch {
    return undefined
  }
}

function codeForStatus(status: number): ErrorCode {
  for (const [code, codeStatus] of Object.entries(STATUS_BY_CODE)) {
    if (codeStatus === status) return code as ErrorCode
  }
  return status >= 500 ? 'internal' : 'bad_request'
}

/** The single place where an error becomes an HTTP response. */
export function toProblemResponse(c: Context, error: unknown): Response {
  const appError = asAppError(error)
  if (appError.code === 'internal' && !(error instanceof AppError)) {
    console.error(JSON.stringify({ level: 'error', requestId: c.get('requestId'), error: String(error) }))
  }
  const body = toProblem(appError, new URL(c.req.url).pathname, c.get('requestId') as string | undefined)
  // Through the context, so headers set by middleware (x-request-id) stay on the response.
  return c.body(JSON.stringify(body), appError.status, {
    ...appError.headers,
    'content-type': PROBLEM_CONTENT_TYPE,
  })
}

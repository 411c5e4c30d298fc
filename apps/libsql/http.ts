// HTTP plumbing: the closed set of HTTP error codes with their statuses, JSON responses, bounded bodies.
//
// Guarantees:
// - Every error response is `content-type: application/json` with body `{ error, message, code }`:
//   `error` is the shape sqld uses, `message` + `code` make @libsql/client raise a LibsqlError carrying
//   `code` (instead of a bare "HTTP status 400").
// - Each code has exactly one status (a Record over the union: a new code without a status does not
//   compile).
// - A body is never buffered past its limit: reading stops accumulating at `limit` bytes and fails with
//   BODY_TOO_LARGE (413), after draining a bounded amount so the client can read the response.

import type { IncomingMessage, ServerResponse } from 'node:http'

export type HttpErrorCode =
  | 'INVALID_JSON'
  | 'INVALID_REQUEST'
  | 'INVALID_NAMESPACE'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'BODY_TOO_LARGE'
  | 'PIPELINE_TOO_LARGE'
  | 'BATON_INVALID'
  | 'BATON_REUSED'
  | 'STREAM_EXPIRED'
  | 'STREAM_LIMIT'
  | 'ENGINE_FAILURE'
  | 'STATEMENT_TIMEOUT'
  | 'INTERNAL'

const STATUS: Record<HttpErrorCode, number> = {
  INVALID_JSON: 400,
  INVALID_REQUEST: 400,
  INVALID_NAMESPACE: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  BODY_TOO_LARGE: 413,
  PIPELINE_TOO_LARGE: 413,
  BATON_INVALID: 400,
  BATON_REUSED: 400,
  STREAM_EXPIRED: 400,
  STREAM_LIMIT: 503,
  ENGINE_FAILURE: 500,
  STATEMENT_TIMEOUT: 500,
  INTERNAL: 500,
}

export class HttpError extends Error {
  readonly code: HttpErrorCode
  readonly status: number
  readonly headers: Record<string, string>
  constructor(code: HttpErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message)
    this.code = code
    this.status = STATUS[code]
    this.headers = headers
  }
}

export function sendJson(
  res: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  })
  res.end(body)
}

export function sendError(res: ServerResponse, error: HttpError): void {
  const body = JSON.stringify({ error: error.message, message: error.message, code: error.code })
  sendJson(res, error.status, body, error.headers)
}

export function sendEmpty(res: ServerResponse, status: number, contentType = 'text/plain'): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': '0' })
  res.end()
}

/** Reads a request body of at most `limit` bytes. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'])
    const drainLimit = limit * 4
    const chunks: Buffer[] = []
    let size = 0
    let tooLarge = Number.isFinite(declared) && declared > limit
    const fail = (): void => {
      reject(
        new HttpError('BODY_TOO_LARGE', `the request body exceeds ${limit} bytes`, { connection: 'close' }),
      )
    }
    if (Number.isFinite(declared) && declared > drainLimit) {
      req.resume()
      fail()
      return
    }
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > limit) tooLarge = true
      if (!tooLarge) chunks.push(chunk)
      else if (size > drainLimit) {
        req.removeAllListeners('data')
        req.pause()
        fail()
      }
    })
    req.on('end', () => (tooLarge ? fail() : resolve(Buffer.concat(chunks, size))))
    req.on('error', (error) => reject(error))
  })
}

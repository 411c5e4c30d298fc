/**
 * Request bodies of the ingest wires: the raw bytes, gzip (`Content-Encoding: gzip`) and
 * snappy (Loki's protobuf) undone within LOGS_LIMITS.maxDecodedBytes, and the batch hash that
 * makes retries idempotent; plus the one mapping from any failure to a wire's status, message
 * and headers (Loki and OTLP keep their own error shapes).
 */
import { LOGS_LIMITS } from '../../schemas/logs'
import { DecompressionError, gunzip } from '../platform/compression'
import { sha256Hex } from '../platform/encoding'
import type { Env } from '../platform/env'
import { AppError, asAppError } from '../platform/errors'
import { SnappyError, snappyDecompress } from '../platform/snappy'
import type { Stream } from './entries'
import { type IngestOutcome, ingestStreams } from './ingest'
import { LogQLError } from './logql/parser'
import { IngestError } from './loki-push'

export async function readBody(request: Request): Promise<Uint8Array> {
  const bytes = new Uint8Array(await request.arrayBuffer())
  const encoding = request.headers.get('content-encoding')?.trim().toLowerCase()
  if (!encoding || encoding === 'identity') return bytes
  if (encoding !== 'gzip')
    throw new IngestError(415, `unsupported Content-Encoding "${encoding.slice(0, 40)}"`)
  try {
    return await gunzip(bytes, LOGS_LIMITS.maxDecodedBytes)
  } catch (error) {
    if (error instanceof DecompressionError) throw new IngestError(error.tooLarge ? 413 : 400, error.message)
    throw error
  }
}

export function unsnappy(bytes: Uint8Array): Uint8Array {
  try {
    return snappyDecompress(bytes, LOGS_LIMITS.maxDecodedBytes)
  } catch (error) {
    if (error instanceof SnappyError)
      throw new IngestError(error.tooLarge ? 413 : 400, `invalid snappy payload: ${error.message}`)
    throw error
  }
}

/**
 * The id of a batch: the Idempotency-Key header if the shipper sends one, else a hash of the
 * path and the exact bytes (a shipper's retry resends the same bytes).
 */
export async function batchHash(request: Request, body: Uint8Array): Promise<string> {
  const key = request.headers.get('idempotency-key')
  if (key) return `key:${await sha256Hex(key.slice(0, 256))}`
  const path = new TextEncoder().encode(`${new URL(request.url).pathname}\n`)
  const joined = new Uint8Array(path.length + body.length)
  joined.set(path)
  joined.set(body, path.length)
  return `body:${await sha256Hex(joined)}`
}

export interface WireError {
  status: number
  message: string
  headers: Record<string, string>
}

/** Any failure as a wire error: payload errors keep their status, AppErrors theirs, the rest 503 (retry). */
export function wireError(error: unknown): WireError {
  if (error instanceof IngestError) return { status: error.status, message: error.message, headers: {} }
  if (error instanceof LogQLError)
    return { status: 400, message: `parse error: ${error.message}`, headers: {} }
  const app = asAppError(error)
  if (app.code === 'internal' && !(error instanceof AppError)) {
    // An object or storage hiccup: the batch is idempotent, so the shipper may simply retry.
    console.error(JSON.stringify({ level: 'error', block: 'logs', error: String(error) }))
    return { status: 503, message: 'temporarily unavailable; retry', headers: { 'Retry-After': '1' } }
  }
  return { status: app.status, message: app.detail, headers: app.headers }
}

/** Reads a request's body, decodes it with `decode` and ingests it under the batch's hash. */
export async function ingestRequest(
  env: Env,
  tenant: string,
  request: Request,
  waitUntil: (promise: Promise<unknown>) => void,
  decode: (body: Uint8Array) => Stream[],
): Promise<IngestOutcome> {
  const body = await readBody(request)
  const streams = decode(body)
  return ingestStreams(env, tenant, streams, await batchHash(request, body), waitUntil)
}

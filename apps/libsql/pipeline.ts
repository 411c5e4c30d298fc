// The Hrana-over-HTTP endpoints: `POST v2|v3/pipeline` and `POST v3/cursor`.
//
// Guarantees:
// - The body is bounded (413 BODY_TOO_LARGE), must be JSON (400 INVALID_JSON) shaped as the spec says
//   (400 INVALID_REQUEST), with at most maxRequests requests (413 PIPELINE_TOO_LARGE).
// - `baton: null` opens a stream (503 STREAM_LIMIT with Retry-After when too many are open); a baton
//   is checked and consumed before any work (streams.ts). The response carries `results` in request
//   order, a fresh baton, or null once the stream is closed, and `base_url: null`.
// - If the engine dies mid-request the stream is gone: 500 ENGINE_FAILURE, never a half answer; a
//   request stopped by the statement timeout gets 500 STATEMENT_TIMEOUT.

import type { IncomingMessage, ServerResponse } from 'node:http'
import { EngineError, EngineFailure, type EnginePort, EngineTimeout } from './engine-client.ts'
import { HttpError, readBody, sendJson } from './http.ts'
import type { StreamRecord, StreamRegistry } from './streams.ts'

export interface PipelineLimits {
  maxBodyBytes: number
  maxRequests: number
}

export interface PipelineContext {
  engine: EnginePort
  streams: StreamRegistry
  limits: PipelineLimits
}

interface Envelope {
  baton: string | null
  body: Record<string, unknown>
}

async function readEnvelope(req: IncomingMessage, ctx: PipelineContext): Promise<Envelope> {
  const raw = await readBody(req, ctx.limits.maxBodyBytes)
  let body: unknown
  try {
    body = JSON.parse(raw.toString('utf8'))
  } catch {
    throw new HttpError('INVALID_JSON', 'the request body is not valid JSON')
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new HttpError('INVALID_REQUEST', 'the request body must be a JSON object')
  const envelope = body as Record<string, unknown>
  const baton = envelope.baton ?? null
  if (baton !== null && typeof baton !== 'string')
    throw new HttpError('INVALID_REQUEST', '"baton" must be a string or null')
  return { baton, body: envelope }
}

function takeStream(ctx: PipelineContext, baton: string | null, namespace: string): StreamRecord {
  if (baton === null) {
    const stream = ctx.streams.open(namespace)
    if (stream === undefined)
      throw new HttpError('STREAM_LIMIT', 'too many open streams; close streams or retry shortly', {
        'retry-after': '1',
      })
    return stream
  }
  const check = ctx.streams.take(baton, namespace)
  if (!check.ok) throw new HttpError(check.code, check.message)
  return check.stream
}

/** Runs `work` on the stream; keeps or forgets the stream afterwards; returns the next baton. */
async function onStream<T>(
  ctx: PipelineContext,
  stream: StreamRecord,
  work: () => Promise<T>,
  isClosed: (value: T) => boolean,
): Promise<{ value: T; baton: string | null }> {
  let value: T
  try {
    value = await work()
  } catch (error) {
    ctx.streams.delete(stream)
    if (error instanceof EngineTimeout) throw new HttpError('STATEMENT_TIMEOUT', error.message)
    if (error instanceof EngineFailure) throw new HttpError('ENGINE_FAILURE', error.message)
    if (error instanceof EngineError) {
      void ctx.engine.closeStream(stream.engineId).catch(() => undefined)
      if (error.code === 'STREAM_EXPIRED') throw new HttpError('STREAM_EXPIRED', error.message)
      throw new HttpError('INTERNAL', `${error.code}: ${error.message}`)
    }
    throw error
  }
  if (isClosed(value)) {
    ctx.streams.delete(stream)
    return { value, baton: null }
  }
  return { value, baton: ctx.streams.release(stream) }
}

export async function handlePipeline(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: PipelineContext,
  namespace: string,
): Promise<void> {
  const { baton, body } = await readEnvelope(req, ctx)
  const requests = body.requests
  if (!Array.isArray(requests)) throw new HttpError('INVALID_REQUEST', '"requests" must be an array')
  if (requests.length > ctx.limits.maxRequests)
    throw new HttpError(
      'PIPELINE_TOO_LARGE',
      `a pipeline may hold at most ${ctx.limits.maxRequests} requests`,
    )
  const stream = takeStream(ctx, baton, namespace)
  const { value, baton: next } = await onStream(
    ctx,
    stream,
    () => ctx.engine.run(stream.engineId, namespace, stream.isNew, requests),
    (r) => r.closed,
  )
  const batonJson = next === null ? 'null' : JSON.stringify(next)
  sendJson(res, 200, `{"baton":${batonJson},"base_url":null,"results":${value.resultsJson}}`)
}

export async function handleCursor(
  req: IncomingMessage,
  res: ServerResponse,
  ctx: PipelineContext,
  namespace: string,
): Promise<void> {
  const { baton, body } = await readEnvelope(req, ctx)
  const batch = body.batch
  if (typeof batch !== 'object' || batch === null)
    throw new HttpError('INVALID_REQUEST', '"batch" must be an object')
  const steps = (batch as { steps?: unknown }).steps
  if (Array.isArray(steps) && steps.length > ctx.limits.maxRequests)
    throw new HttpError('PIPELINE_TOO_LARGE', `a batch may hold at most ${ctx.limits.maxRequests} steps`)
  const stream = takeStream(ctx, baton, namespace)
  const { value, baton: next } = await onStream(
    ctx,
    stream,
    () => ctx.engine.cursor(stream.engineId, namespace, stream.isNew, batch),
    () => false,
  )
  const head = JSON.stringify({ baton: next, base_url: null })
  const text = `${[head, ...value].join('\n')}\n`
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(text)) })
  res.end(text)
}

/**
 * `/v1/logs`: OTLP/HTTP logs at exactly `POST /v1/logs` (the path OTLP exporters use by
 * default, so `OTEL_EXPORTER_OTLP_ENDPOINT=<origin>` just works), NDJSON for curl, the
 * tenant's settings, its shards, a query plan explainer and live tail over SSE. The Loki API
 * lives in loki-routes.ts.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { IngestResult, LogSettings, LogSettingsRequest } from '../../schemas/logs'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { forgetSettings, shardStub, tenantDirectory } from './ingest'
import { logQueryOf } from './logql/ast'
import { LogQLError } from './logql/parser'
import { decodeNdjson, IngestError } from './loki-push'
import { openTail } from './loki-routes'
import { decodeOtlpJson, decodeOtlpProtobuf, otlpResponse, otlpStatus } from './otlp'
import { parseQuery } from './query'
import type { ShardKey } from './tenant-object'
import { ingestRequest, wireError } from './wire'

const tags = ['logs']

function asProblem(error: unknown): never {
  if (error instanceof AppError) throw error
  const { status, message, headers } = wireError(error)
  const code =
    status === 413
      ? 'payload_too_large'
      : status === 415
        ? 'unsupported_media_type'
        : status === 503
          ? 'unavailable'
          : 'bad_request'
  throw new AppError(code, message, { headers })
}

const QueryParam = v.object({ query: v.pipe(v.string(), v.minLength(1), v.maxLength(8192)) })

export const logsRoutes = new Hono<AuthEnv>()
  .post(
    '/',
    describe({
      wire: 'otlp',
      tags,
      summary: 'OTLP/HTTP logs export',
      description:
        'An `ExportLogsServiceRequest` as `application/x-protobuf` or `application/json` (optionally gzip). ' +
        'Resource attributes become stream labels, everything else structured metadata. Replies with ' +
        '`partialSuccess` when lines were rejected; 429/503 carry Retry-After (the only statuses exporters retry).',
      scope: 'logs:write',
      responses: { 200: { description: 'ExportLogsServiceResponse' } },
      problems: [413, 415],
    }),
    requireScope('logs:write'),
    async function otlpExport(c) {
      const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
      const json = type === 'application/json'
      try {
        if (!json && type !== 'application/x-protobuf') {
          throw new IngestError(
            415,
            `unsupported Content-Type "${type}"; send application/x-protobuf or application/json`,
          )
        }
        const now = Date.now()
        const outcome = await ingestRequest(
          c.env,
          tenantOf(c),
          c.req.raw,
          (p) => c.executionCtx.waitUntil(p),
          (body) =>
            json ? decodeOtlpJson(new TextDecoder().decode(body), now) : decodeOtlpProtobuf(body, now),
        )
        const reply = otlpResponse(outcome.rejected, outcome.rejectedReason, json)
        return new Response(reply, {
          status: 200,
          headers: { 'content-type': json ? 'application/json' : 'application/x-protobuf' },
        })
      } catch (error) {
        const { status, message, headers } = wireError(error)
        // google.rpc.Code: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE.
        const code = status === 429 ? 8 : status >= 500 ? 14 : 3
        return new Response(otlpStatus(code, message, json), {
          status,
          headers: { ...headers, 'content-type': json ? 'application/json' : 'application/x-protobuf' },
        })
      }
    },
  )
  .post(
    '/ndjson',
    describe({
      tags,
      summary: 'Send lines as NDJSON',
      description:
        'One JSON object per line: `{"line": "…", "labels": {…}, "metadata": {…}, "time": "RFC 3339 or a number"}`; ' +
        'without labels a line goes to `{source="ndjson"}`, without time it is now. Idempotency-Key is honoured.',
      scope: 'logs:write',
      responses: { 200: { description: 'Stored', schema: IngestResult } },
      problems: [413, 415],
    }),
    requireScope('logs:write'),
    async function ndjsonIngest(c) {
      try {
        const outcome = await ingestRequest(
          c.env,
          tenantOf(c),
          c.req.raw,
          (p) => c.executionCtx.waitUntil(p),
          (body) => decodeNdjson(new TextDecoder().decode(body), Date.now()),
        )
        return c.json({
          accepted: outcome.accepted,
          rejected: outcome.rejected,
          duplicate: outcome.duplicate,
        })
      } catch (error) {
        return asProblem(error)
      }
    },
  )
  .get(
    '/settings',
    describe({
      tags,
      summary: "The tenant's logging settings",
      scope: 'logs:read',
      responses: { 200: { description: 'Settings', schema: LogSettings } },
    }),
    requireScope('logs:read'),
    async function getSettings(c) {
      return c.json(await tenantDirectory(c.env, tenantOf(c)).settings())
    },
  )
  .put(
    '/settings',
    describe({
      tags,
      summary: "Change the tenant's logging settings",
      description:
        'Retention and compaction apply to every shard at once (their alarms are re-armed); limits within 5 s.',
      scope: 'logs:write',
      responses: { 200: { description: 'The new settings', schema: LogSettings } },
    }),
    requireScope('logs:write'),
    validate('json', LogSettingsRequest),
    async function putSettings(c) {
      const tenant = tenantOf(c)
      const settings = await tenantDirectory(c.env, tenant).updateSettings(tenant, c.req.valid('json'))
      forgetSettings(tenant)
      return c.json(settings)
    },
  )
  .get(
    '/shards',
    describe({
      tags,
      summary: "The tenant's shards and what they hold",
      scope: 'logs:read',
      responses: { 200: { description: 'Shards' } },
    }),
    requireScope('logs:read'),
    async function listShards(c) {
      const tenant = tenantOf(c)
      const keys = (await tenantDirectory(c.env, tenant).shardsBetween(
        0,
        Number.MAX_SAFE_INTEGER,
      )) as unknown as ShardKey[]
      const shards = await Promise.all(
        keys.map(async ([day, shard]) => ({
          day,
          shard,
          ...(await shardStub(c.env, tenant, day, shard).stats()),
        })),
      )
      return c.json({ shards })
    },
  )
  .get(
    '/explain',
    describe({
      tags,
      summary: 'How a log query is served: the index lookups per shard and SQLite’s plan',
      scope: 'logs:read',
      responses: { 200: { description: 'Plans per shard' } },
    }),
    requireScope('logs:read'),
    validate('query', QueryParam),
    async function explainQuery(c) {
      const tenant = tenantOf(c)
      let query: ReturnType<typeof logQueryOf>
      try {
        query = logQueryOf(parseQuery(c.req.valid('query').query))
      } catch (error) {
        return asProblem(error)
      }
      const keys = (await tenantDirectory(c.env, tenant).shardsBetween(
        0,
        Number.MAX_SAFE_INTEGER,
      )) as unknown as ShardKey[]
      const plans = await Promise.all(
        keys.map(async ([day, shard]) => {
          const { plan, sqlite } = await shardStub(c.env, tenant, day, shard).explain(query)
          return { day, shard, plan, sqlite }
        }),
      )
      return c.json({ shards: plans })
    },
  )
  .get(
    '/tail',
    describe({
      tags,
      summary: 'Live tail as Server-Sent Events',
      description: 'Each event’s data is a Loki tail message; WebSocket clients use /loki/api/v1/tail.',
      scope: 'logs:read',
      responses: { 200: { description: 'text/event-stream', mediaType: 'text/event-stream' } },
    }),
    requireScope('logs:read'),
    validate('query', QueryParam),
    async function sseTail(c) {
      try {
        return await openTail(c.env, tenantOf(c), c.req.raw, false)
      } catch (error) {
        if (error instanceof LogQLError) return asProblem(error)
        throw error
      }
    },
  )

/**
 * OTLP/HTTP metrics export: `POST /v1/metrics` (the path OTLP exporters use by default, so
 * `OTEL_EXPORTER_OTLP_ENDPOINT=<origin>` sends logs and metrics to the platform) and the same
 * at `/v1/monitoring/otlp/v1/metrics`. Replies in the request's encoding: an
 * `ExportMetricsServiceResponse` (with `partialSuccess` when points were rejected), or a
 * `google.rpc.Status` with the error status.
 */
import { Hono } from 'hono'
import { MONITORING_LIMITS } from '../../../schemas/monitoring'
import { type AuthEnv, requireScope } from '../../platform/auth/middleware'
import { DecompressionError, gunzip } from '../../platform/compression'
import { asAppError } from '../../platform/errors'
import { describe } from '../../platform/openapi'
import { ProtoWriter } from '../../platform/protobuf'
import { tenantOf } from '../../platform/tenancy'
import { seriesLimitMessage, writeSeries } from '../ingest'
import { scrapesObject } from '../scrape/object'
import { SampleError } from '../series'
import { decodeOtlpMetricsJson } from './decode-json'
import { decodeOtlpMetricsProtobuf } from './decode-protobuf'
import { translateOtlp } from './translate'

/** `ExportMetricsServiceResponse`: `partialSuccess {rejectedDataPoints = 1, errorMessage = 2}`. */
export function otlpMetricsResponse(rejected: number, message: string, json: boolean): string | Uint8Array {
  if (json)
    return JSON.stringify(
      rejected > 0 ? { partialSuccess: { rejectedDataPoints: String(rejected), errorMessage: message } } : {},
    )
  const writer = new ProtoWriter()
  if (rejected > 0) writer.message(1, (p) => p.int64Field(1, BigInt(rejected)).stringField(2, message))
  return writer.finish()
}

function otlpStatus(code: number, message: string, json: boolean): string | Uint8Array {
  if (json) return JSON.stringify({ code, message })
  return new ProtoWriter().uintField(1, code).stringField(2, message).finish()
}

export const otlpMetricsRoutes = new Hono<AuthEnv>().post(
  '/',
  describe({
    wire: 'otlp',
    tags: ['monitoring'],
    summary: 'OTLP/HTTP metrics export',
    description:
      'An `ExportMetricsServiceRequest` as `application/x-protobuf` or `application/json` (optionally gzip). Gauges, sums ' +
      '(delta sums accumulated into running totals), histograms (`_bucket{le}`, `_sum`, `_count`), exponential ' +
      'histograms (as classic buckets) and summaries; names follow Prometheus’s OTLP translator ' +
      '(`http.server.duration` in `s` → `http_server_duration_seconds`), `service.name` → `job`, ' +
      '`service.instance.id` → `instance`, other resource attributes on `target_info`. Rejected points are ' +
      'reported in `partialSuccess`.',
    scope: 'monitoring:write',
    responses: { 200: { description: 'ExportMetricsServiceResponse' } },
    problems: [413, 415],
  }),
  requireScope('monitoring:write'),
  async function otlpMetricsExport(c) {
    const type = (c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase()
    const json = type === 'application/json'
    const headers = { 'content-type': json ? 'application/json' : 'application/x-protobuf' }
    try {
      if (!json && type !== 'application/x-protobuf')
        throw new SampleError(
          `unsupported Content-Type "${type}"; send application/x-protobuf or application/json`,
          415,
        )
      let body: Uint8Array = new Uint8Array(await c.req.arrayBuffer())
      const encoding = (c.req.header('content-encoding') ?? 'identity').trim().toLowerCase()
      if (encoding === 'gzip') {
        try {
          body = await gunzip(body, MONITORING_LIMITS.maxDecodedBytes)
        } catch (error) {
          if (!(error instanceof DecompressionError)) throw error
          throw new SampleError(error.message, error.tooLarge ? 413 : 400)
        }
      } else if (encoding !== 'identity')
        throw new SampleError(`unsupported Content-Encoding "${encoding}"`, 415)
      const resources = json
        ? decodeOtlpMetricsJson(new TextDecoder().decode(body))
        : decodeOtlpMetricsProtobuf(body)
      const translated = translateOtlp(resources, Date.now())
      if (translated.metadata.length > 0)
        await scrapesObject(c.env, tenantOf(c)).recordMetadata(translated.metadata)
      let { rejected, reason } = translated
      if (translated.series.length > 0) {
        const outcome = await writeSeries(c.env, tenantOf(c), translated.series)
        const refused = outcome.outOfOrder + outcome.limited
        if (refused > 0) {
          rejected += refused
          reason ||=
            outcome.limited > 0
              ? seriesLimitMessage(outcome)
              : `${outcome.outOfOrder} samples out of order (or deltas not newer than the series' newest)`
        }
      }
      return new Response(otlpMetricsResponse(rejected, reason, json), { status: 200, headers })
    } catch (error) {
      const status = error instanceof SampleError ? error.status : asAppError(error).status
      const message = error instanceof Error ? error.message : 'internal error'
      if (status >= 500)
        console.error(JSON.stringify({ level: 'error', block: 'monitoring', error: String(error) }))
      // google.rpc.Code: 3 INVALID_ARGUMENT, 8 RESOURCE_EXHAUSTED, 14 UNAVAILABLE.
      const code = status === 429 ? 8 : status >= 500 ? 14 : 3
      return new Response(otlpStatus(code, status >= 500 ? 'internal error' : message, json), {
        status,
        headers,
      })
    }
  },
)

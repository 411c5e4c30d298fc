/**
 * The logs block with real shippers against the platform started like `npm run dev`:
 * pino with pino-loki (Loki push API), the OpenTelemetry logs SDK with the OTLP/HTTP
 * exporter (POST /v1/logs), curl with NDJSON, and the platform's own request logs.
 */
import { execFileSync } from 'node:child_process'
import { SeverityNumber } from '@opentelemetry/api-logs'
import { OTLPLogExporter } from '@opentelemetry/exporter-logs-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchLogRecordProcessor, LoggerProvider } from '@opentelemetry/sdk-logs'
import pino from 'pino'
import { pinoLoki } from 'pino-loki'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

let platform: RunningPlatform
let token: string

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('e2e-logs', ['logs:read', 'logs:write'])
})

afterAll(async () => {
  await platform?.stop()
})

type Streams = Array<{ stream: Record<string, string>; values: Array<[string, string]> }>

async function query(query: string, bearer = token): Promise<Streams> {
  const params = new URLSearchParams({ query, since: '1h', limit: '100', direction: 'forward' })
  const response = await fetch(`${platform.url}/loki/api/v1/query_range?${params}`, {
    headers: { authorization: `Bearer ${bearer}` },
  })
  expect(response.status).toBe(200)
  return ((await response.json()) as { data: { result: Streams } }).data.result
}

describe('real shippers', () => {
  it('pino with pino-loki pushes JSON lines that LogQL parses', async () => {
    const transport = pinoLoki({
      host: platform.url,
      headers: { authorization: `Bearer ${token}` },
      labels: { app: 'pino-e2e' },
      batching: { interval: 60 },
    })
    const logger = pino({ base: { service: 'checkout' } }, transport)
    logger.info({ user_id: 'u-123', meta: { trace_id: 'tr-1' } }, 'user logged in')
    logger.error({ user_id: 'u-456', duration_ms: 1300 }, 'payment failed')
    logger.warn({ user_id: 'u-123' }, 'slow response')
    // Closing the transport flushes its batch with one push and waits for the answer.
    const closed = new Promise((resolve) => transport.once('close', resolve))
    transport.end()
    await closed

    const all = await query('{app="pino-e2e"}')
    expect(all.flatMap((s) => s.values).length).toBe(3)
    const errors = await query('{app="pino-e2e"} | json | level="error"')
    expect(errors.flatMap((s) => s.values.map(([, line]) => JSON.parse(line).msg))).toEqual([
      'payment failed',
    ])
    const user = await query('{app="pino-e2e"} | json | user_id="u-123" | line_format "{{.msg}}"')
    expect(user.flatMap((s) => s.values.map(([, line]) => line)).sort()).toEqual([
      'slow response',
      'user logged in',
    ])
    const traced = await query('{app="pino-e2e"} | trace_id="tr-1"')
    expect(traced).toHaveLength(1)
  })

  it('the OpenTelemetry logs SDK exports over OTLP/HTTP to POST /v1/logs', async () => {
    const exporter = new OTLPLogExporter({
      url: `${platform.url}/v1/logs`,
      headers: { authorization: `Bearer ${token}` },
    })
    const provider = new LoggerProvider({
      resource: resourceFromAttributes({ 'service.name': 'otel-e2e', 'deployment.environment': 'test' }),
      processors: [new BatchLogRecordProcessor({ exporter })],
    })
    const logger = provider.getLogger('e2e.scope', '1.0.0')
    logger.emit({
      severityNumber: SeverityNumber.INFO,
      severityText: 'INFO',
      body: 'cart updated',
      attributes: { 'user.id': 'u-9', items: 3 },
    })
    logger.emit({
      severityNumber: SeverityNumber.ERROR,
      severityText: 'ERROR',
      body: 'checkout failed',
      attributes: { 'user.id': 'u-9' },
    })
    await provider.forceFlush()
    await provider.shutdown()

    const result = await query('{service_name="otel-e2e"} | severity_text="ERROR"')
    expect(result).toHaveLength(1)
    expect(result[0]?.values.map(([, line]) => line)).toEqual(['checkout failed'])
    expect(result[0]?.stream).toMatchObject({
      deployment_environment: 'test',
      scope_name: 'e2e.scope',
      user_id: 'u-9',
    })
    const counts = await fetch(
      `${platform.url}/loki/api/v1/query?${new URLSearchParams({ query: 'sum(count_over_time({service_name="otel-e2e"}[1h]))' })}`,
      { headers: { authorization: `Bearer ${token}` } },
    )
    expect(
      ((await counts.json()) as { data: { result: Array<{ value: [number, string] }> } }).data.result[0]
        ?.value[1],
    ).toBe('2')
  })

  it('curl sends NDJSON', async () => {
    const body = `${JSON.stringify({ line: 'deployed v42', labels: { app: 'curl-e2e' } })}\n`
    const out = execFileSync('curl', [
      '-sS',
      '-X',
      'POST',
      `${platform.url}/v1/logs/ndjson`,
      '-H',
      `Authorization: Bearer ${token}`,
      '--data-binary',
      body,
    ]).toString()
    expect(JSON.parse(out)).toEqual({ accepted: 1, rejected: 0, duplicate: false })
    expect((await query('{app="curl-e2e"}'))[0]?.values.map(([, line]) => line)).toEqual(['deployed v42'])
  })

  it("writes the platform's own request logs into tenant platform", async () => {
    const probe = await fetch(`${platform.url}/v1/logs/settings`, {
      headers: { authorization: `Bearer ${token}` },
    })
    const requestId = probe.headers.get('x-request-id') as string
    const operator = await platform.token('platform', ['logs:read'])
    // Written after the response (waitUntil): look for it until a deadline.
    const deadline = Date.now() + 10_000
    let found: Streams = []
    while (found.length === 0 && Date.now() < deadline) {
      found = await query(`{service_name="edgeblocks"} | json | request_id="${requestId}"`, operator)
    }
    expect(found).toHaveLength(1)
    expect(JSON.parse(found[0]?.values[0]?.[1] as string)).toMatchObject({
      method: 'GET',
      route: '/v1/logs/settings',
      status: 200,
      tenant: 'e2e-logs',
      request_id: requestId,
    })
  })
})

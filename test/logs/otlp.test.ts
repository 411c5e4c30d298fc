/** OTLP/HTTP logs at POST /v1/logs: protobuf and JSON, partialSuccess, error statuses. */
import { describe, expect, it } from 'vitest'
import { ProtoReader, ProtoWriter } from '../../workers/platform/protobuf'
import { newTenant, ns, queryRange, request, type Tenant } from './support'

const kv = (w: ProtoWriter, field: number, key: string, value: (v: ProtoWriter) => void) =>
  w.message(field, (pair) => pair.stringField(1, key).message(2, value))

function exportRequest(timeNs: bigint, line: string, extra: (record: ProtoWriter) => void = () => {}) {
  return new ProtoWriter()
    .message(1, (resourceLogs) => {
      resourceLogs.message(1, (resource) => {
        kv(resource, 1, 'service.name', (v) => v.stringField(1, 'checkout'))
        kv(resource, 1, 'deployment.environment', (v) => v.stringField(1, 'prod'))
      })
      resourceLogs.message(2, (scopeLogs) => {
        scopeLogs.message(1, (scope) => scope.stringField(1, 'checkout.http'))
        scopeLogs.message(2, (record) => {
          record.fixed64Field(1, timeNs)
          record.uintField(2, 17)
          record.stringField(3, 'ERROR')
          record.message(5, (body) => body.stringField(1, line))
          kv(record, 6, 'user.id', (v) => v.stringField(1, 'u-42'))
          kv(record, 6, 'http.status_code', (v) => v.int64Field(3, 503n))
          kv(record, 6, 'retry', (v) => v.uintField(2, 1))
          record.bytesField(
            9,
            Uint8Array.from({ length: 16 }, (_, i) => i),
          )
          record.bytesField(
            10,
            Uint8Array.from({ length: 8 }, (_, i) => 0xf0 + i),
          )
          extra(record)
        })
      })
    })
    .finish()
}

const query = (tenant: Tenant, q: string) =>
  queryRange(tenant, { query: q, start: '0', end: ns(Date.now() + 3_600_000), limit: '100' })

describe('OTLP logs', () => {
  it('maps resource attributes to labels and the rest to structured metadata (protobuf)', async () => {
    const tenant = await newTenant('otlp')
    const time = BigInt(Date.now() - 5000) * 1_000_000n + 42n
    const response = await request(tenant, '/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: exportRequest(time, 'payment declined'),
    })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/x-protobuf')
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(new Uint8Array())
    const result = (await query(tenant, '{service_name="checkout"} | user_id="u-42"')).data.result
    expect(result).toEqual([
      {
        stream: {
          service_name: 'checkout',
          deployment_environment: 'prod',
          scope_name: 'checkout.http',
          severity_text: 'ERROR',
          severity_number: '17',
          trace_id: '000102030405060708090a0b0c0d0e0f',
          span_id: 'f0f1f2f3f4f5f6f7',
          user_id: 'u-42',
          http_status_code: '503',
          retry: 'true',
        },
        values: [[time.toString(), 'payment declined']],
      },
    ])
  })

  it('accepts the JSON encoding, with a structured body as JSON text', async () => {
    const tenant = await newTenant('otlp')
    const time = `${BigInt(Date.now() - 1000) * 1_000_000n}`
    const body = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'cart' } }] },
          scopeLogs: [
            {
              scope: { name: 'cart' },
              logRecords: [
                {
                  timeUnixNano: time,
                  severityText: 'INFO',
                  body: {
                    kvlistValue: {
                      values: [
                        { key: 'event', value: { stringValue: 'added' } },
                        { key: 'qty', value: { intValue: '2' } },
                      ],
                    },
                  },
                  traceId: '5b8efff798038103d269b633813fc60c',
                  spanId: 'eee19b7ec3c1b174',
                },
              ],
            },
          ],
        },
      ],
    }
    const response = await request(tenant, '/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({})
    const result = (await query(tenant, '{service_name="cart"} | json | qty > 1')).data.result
    expect(result[0]?.values).toEqual([[time, '{"event":"added","qty":2}']])
    expect(result[0]?.stream).toMatchObject({
      trace_id: '5b8efff798038103d269b633813fc60c',
      span_id: 'eee19b7ec3c1b174',
      event: 'added',
    })
  })

  it('answers partialSuccess for lines over the size limit and stores the others', async () => {
    const tenant = await newTenant('otlp')
    await request(tenant, '/v1/logs/settings', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"maxLineBytes":64}',
    })
    const now = Date.now()
    const body = {
      resourceLogs: [
        {
          resource: { attributes: [{ key: 'service.name', value: { stringValue: 'big' } }] },
          scopeLogs: [
            {
              logRecords: [
                { timeUnixNano: `${BigInt(now) * 1_000_000n}`, body: { stringValue: 'fits' } },
                { timeUnixNano: `${BigInt(now) * 1_000_000n}`, body: { stringValue: 'z'.repeat(65) } },
              ],
            },
          ],
        },
      ],
    }
    const response = await request(tenant, '/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({
      partialSuccess: {
        rejectedLogRecords: '1',
        errorMessage: 'a line of 65 bytes is over the 64-byte limit',
      },
    })
    const protobuf = await request(tenant, '/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: exportRequest(BigInt(now) * 1_000_000n, 'y'.repeat(100)),
    })
    const reply = new ProtoReader(new Uint8Array(await protobuf.arrayBuffer()))
    expect(reply.next()).toEqual({ field: 1, wire: 2 })
    const partial = reply.message()
    expect(partial.next()).toEqual({ field: 1, wire: 0 })
    expect(partial.varint()).toBe(1)
    const lines = (await query(tenant, '{service_name=~".+"}')).data.result.flatMap((s) =>
      s.values.map(([, l]) => l),
    )
    expect(lines).toEqual(['fits'])
  })

  it('answers 400 with a Status in the request encoding for malformed payloads, 415 for other types', async () => {
    const tenant = await newTenant('otlp')
    const bad = await request(tenant, '/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'application/x-protobuf' },
      body: Uint8Array.from([0x0a, 0x7f, 0x01]),
    })
    expect(bad.status).toBe(400)
    const status = new ProtoReader(new Uint8Array(await bad.arrayBuffer()))
    expect(status.next()).toEqual({ field: 1, wire: 0 })
    expect(status.varint()).toBe(3)
    const badJson = await request(tenant, '/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"resourceLogs": 5}',
    })
    expect(badJson.status).toBe(400)
    expect(await badJson.json()).toMatchObject({ code: 3 })
    const text = await request(tenant, '/v1/logs', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: 'x',
    })
    expect(text.status).toBe(415)
    const shards = (await (await request(tenant, '/v1/logs/shards')).json()) as { shards: unknown[] }
    expect(shards.shards).toEqual([])
  })

  it('answers 429 with Retry-After (an OTLP-retryable status) over the ingest rate', async () => {
    const tenant = await newTenant('otlp')
    await request(tenant, '/v1/logs/settings', {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: '{"linesPerSecond":1}',
    })
    const send = (i: number) =>
      request(tenant, '/v1/logs', {
        method: 'POST',
        headers: { 'content-type': 'application/x-protobuf' },
        body: new ProtoWriter()
          .message(1, (rl) =>
            rl.message(2, (sl) => {
              for (let j = 0; j < 10; j++)
                sl.message(2, (r) => r.message(5, (b) => b.stringField(1, `line ${i}.${j}`)))
            }),
          )
          .finish(),
      })
    expect((await send(1)).status).toBe(200)
    const limited = await send(2)
    expect(limited.status).toBe(429)
    expect(limited.headers.get('retry-after')).toMatch(/^\d+$/)
  })
})

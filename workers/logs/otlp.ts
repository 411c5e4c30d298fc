/**
 * OTLP/HTTP logs (`ExportLogsServiceRequest`, protobuf or its JSON mapping) → streams, and
 * the replies an exporter expects (`ExportLogsServiceResponse` with `partialSuccess`, a
 * `google.rpc.Status` for errors), in the request's own encoding.
 *
 * Mapping: a resource's scalar attributes become the stream's labels (names sanitized,
 * `service.name` → `service_name`, default `unknown_service`); the scope name, severity,
 * trace and span ids (hex) and the record's attributes become structured metadata; a string
 * body is the line, any other body its JSON. Time: `timeUnixNano`, else the observed time,
 * else now. Guarantees: a malformed payload is one `IngestError`. Cost: one pass.
 */
import * as v from 'valibot'
import { LOGS_LIMITS, OtlpLogsJson } from '../../schemas/logs'
import { base64ToBytes, bytesToBase64 } from '../platform/encoding'
import { type OtlpJsonAnyValue, type OtlpJsonKeyValue, otlpJsonValue } from '../platform/otlp-json'
import {
  ProtobufError,
  type ProtoReader,
  ProtoWriter,
  ProtoReader as Reader,
  WIRE,
} from '../platform/protobuf'
import { type Entry, fromNanos, type Stream, sanitizeLabelName } from './entries'
import { IngestError } from './loki-push'

type Value = string | number | boolean | null | Value[] | { [key: string]: Value }
type Attributes = Array<[string, Value]>

interface OtlpRecord {
  nanos: bigint
  observed: bigint
  severityNumber: number
  severityText: string
  body: Value
  attributes: Attributes
  traceId: string
  spanId: string
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (byte) => byte.toString(16).padStart(2, '0')).join('')
const text = (value: Value) => (typeof value === 'string' ? value : JSON.stringify(value))

function toStreams(
  resources: Array<{ resource: Attributes; scopes: Array<{ scope: string; records: OtlpRecord[] }> }>,
  nowMs: number,
): Stream[] {
  const streams: Stream[] = []
  for (const { resource, scopes } of resources) {
    const labels: Record<string, string> = {}
    const extra: Record<string, string> = {}
    for (const [key, value] of resource) {
      const name = sanitizeLabelName(key)
      const scalar = value !== null && typeof value !== 'object'
      if (scalar && Object.keys(labels).length < LOGS_LIMITS.maxLabels - 1)
        labels[name] = String(value).slice(0, LOGS_LIMITS.maxLabelValueLength)
      else extra[name] = text(value)
    }
    labels.service_name ??= 'unknown_service'
    const entries: Entry[] = []
    for (const { scope, records } of scopes) {
      for (const record of records) {
        const nanos =
          record.nanos > 0n
            ? record.nanos
            : record.observed > 0n
              ? record.observed
              : BigInt(nowMs) * 1_000_000n
        const at = fromNanos(nanos)
        if (!at) throw new IngestError(400, 'a timeUnixNano is out of range')
        const metadata: Record<string, string> = { ...extra }
        if (scope) metadata.scope_name = scope
        if (record.severityText) metadata.severity_text = record.severityText
        if (record.severityNumber) metadata.severity_number = String(record.severityNumber)
        if (record.traceId) metadata.trace_id = record.traceId
        if (record.spanId) metadata.span_id = record.spanId
        for (const [key, value] of record.attributes) metadata[sanitizeLabelName(key)] = text(value)
        entries.push({ ...at, line: text(record.body ?? ''), metadata })
      }
    }
    streams.push({ labels, entries })
  }
  return streams
}

// ---- protobuf ----

/** The wire type of each AnyValue field: string, bool, int, double, array, kvlist, bytes. */
const ANY_VALUE_WIRE = [
  -1,
  WIRE.bytes,
  WIRE.varint,
  WIRE.varint,
  WIRE.fixed64,
  WIRE.bytes,
  WIRE.bytes,
  WIRE.bytes,
]

function anyValue(reader: ProtoReader): Value {
  let value: Value = null
  for (let field = reader.next(); field; field = reader.next()) {
    const { wire } = field
    if (field.field <= 7) reader.expect(wire, ANY_VALUE_WIRE[field.field] as number)
    switch (field.field) {
      case 1:
        value = reader.string()
        break
      case 2:
        value = reader.bool()
        break
      case 3:
        value = Number(reader.varint64(true))
        break
      case 4:
        value = reader.double()
        break
      case 5: {
        const list: Value[] = []
        const array = reader.message()
        for (let item = array.next(); item; item = array.next()) {
          if (item.field === 1) list.push(anyValue(array.message()))
          else array.skip(item.wire)
        }
        value = list
        break
      }
      case 6:
        value = Object.fromEntries(keyValues(reader.message(), 1))
        break
      case 7:
        value = bytesToBase64(reader.bytes())
        break
      default:
        reader.skip(wire)
    }
  }
  return value
}

/** The KeyValue entries at `field` of a message (`attributes`, `values`). */
function keyValues(reader: ProtoReader, field: number): Attributes {
  const pairs: Attributes = []
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.field !== field || f.wire !== WIRE.bytes) {
      reader.skip(f.wire)
      continue
    }
    pairs.push(keyValue(reader.message()))
  }
  return pairs
}

function keyValue(pair: ProtoReader): [string, Value] {
  let key = ''
  let value: Value = null
  for (let p = pair.next(); p; p = pair.next()) {
    if (p.field === 1 && p.wire === WIRE.bytes) key = pair.string()
    else if (p.field === 2 && p.wire === WIRE.bytes) value = anyValue(pair.message())
    else pair.skip(p.wire)
  }
  return [key, value]
}

function logRecord(reader: ProtoReader): OtlpRecord {
  const record: OtlpRecord = {
    nanos: 0n,
    observed: 0n,
    severityNumber: 0,
    severityText: '',
    body: '',
    attributes: [],
    traceId: '',
    spanId: '',
  }
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.field === 1 && f.wire === WIRE.fixed64) record.nanos = reader.fixed64()
    else if (f.field === 11 && f.wire === WIRE.fixed64) record.observed = reader.fixed64()
    else if (f.field === 2 && f.wire === WIRE.varint) record.severityNumber = reader.varint()
    else if (f.field === 3 && f.wire === WIRE.bytes) record.severityText = reader.string()
    else if (f.field === 5 && f.wire === WIRE.bytes) record.body = anyValue(reader.message())
    else if (f.field === 6 && f.wire === WIRE.bytes) record.attributes.push(keyValue(reader.message()))
    else if (f.field === 9 && f.wire === WIRE.bytes) record.traceId = hex(reader.bytes())
    else if (f.field === 10 && f.wire === WIRE.bytes) record.spanId = hex(reader.bytes())
    else reader.skip(f.wire)
  }
  return record
}

export function decodeOtlpProtobuf(bytes: Uint8Array, nowMs: number): Stream[] {
  try {
    const resources: Parameters<typeof toStreams>[0] = []
    const request = new Reader(bytes)
    for (let f = request.next(); f; f = request.next()) {
      if (f.field !== 1 || f.wire !== WIRE.bytes) {
        request.skip(f.wire)
        continue
      }
      const resourceLogs = request.message()
      const item: Parameters<typeof toStreams>[0][number] = { resource: [], scopes: [] }
      for (let r = resourceLogs.next(); r; r = resourceLogs.next()) {
        if (r.field === 1 && r.wire === WIRE.bytes) item.resource = keyValues(resourceLogs.message(), 1)
        else if (r.field === 2 && r.wire === WIRE.bytes) {
          const scopeLogs = resourceLogs.message()
          const scope = { scope: '', records: [] as OtlpRecord[] }
          for (let s = scopeLogs.next(); s; s = scopeLogs.next()) {
            if (s.field === 1 && s.wire === WIRE.bytes) {
              const reader = scopeLogs.message()
              for (let n = reader.next(); n; n = reader.next()) {
                if (n.field === 1 && n.wire === WIRE.bytes) scope.scope = reader.string()
                else reader.skip(n.wire)
              }
            } else if (s.field === 2 && s.wire === WIRE.bytes)
              scope.records.push(logRecord(scopeLogs.message()))
            else scopeLogs.skip(s.wire)
          }
          item.scopes.push(scope)
        } else resourceLogs.skip(r.wire)
      }
      resources.push(item)
    }
    return toStreams(resources, nowMs)
  } catch (error) {
    if (error instanceof ProtobufError) throw new IngestError(400, `invalid protobuf: ${error.message}`)
    throw error
  }
}

// ---- JSON ----

type JsonKeyValue = OtlpJsonKeyValue
const jsonValue = (value: OtlpJsonKeyValue['value']): Value => otlpJsonValue(value)

const jsonAttributes = (pairs: JsonKeyValue[] | undefined): Attributes =>
  (pairs ?? []).map((pair) => [pair.key, jsonValue(pair.value)])

const jsonNanos = (value: string | number | undefined) =>
  value === undefined ? 0n : BigInt(typeof value === 'number' ? Math.round(value) : value)

/** Trace and span ids are hex in OTLP JSON; base64 from older exporters is converted. */
function jsonId(id: string | undefined, bytes: number): string {
  if (!id) return ''
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(id)) return id.toLowerCase()
  const decoded = base64ToBytes(id)
  if (decoded?.length === bytes) return hex(decoded)
  throw new IngestError(400, `invalid trace or span id "${id.slice(0, 64)}"`)
}

export function decodeOtlpJson(body: string, nowMs: number): Stream[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(body)
  } catch {
    throw new IngestError(400, 'the body is not valid JSON')
  }
  const result = v.safeParse(OtlpLogsJson, parsed)
  if (!result.success)
    throw new IngestError(400, `invalid OTLP logs: ${result.issues[0]?.message ?? 'bad input'}`)
  const resources = (result.output.resourceLogs ?? []).map((resourceLogs) => ({
    resource: jsonAttributes(resourceLogs.resource?.attributes as JsonKeyValue[] | undefined),
    scopes: (resourceLogs.scopeLogs ?? []).map((scopeLogs) => ({
      scope: scopeLogs.scope?.name ?? '',
      records: (scopeLogs.logRecords ?? []).map(
        (record): OtlpRecord => ({
          nanos: jsonNanos(record.timeUnixNano),
          observed: jsonNanos(record.observedTimeUnixNano),
          severityNumber: typeof record.severityNumber === 'number' ? record.severityNumber : 0,
          severityText: record.severityText ?? '',
          body: jsonValue(record.body as OtlpJsonAnyValue | undefined) ?? '',
          attributes: jsonAttributes(record.attributes as JsonKeyValue[] | undefined),
          traceId: jsonId(record.traceId, 16),
          spanId: jsonId(record.spanId, 8),
        }),
      ),
    })),
  }))
  return toStreams(resources, nowMs)
}

// ---- replies ----

/** `ExportLogsServiceResponse`; `partialSuccess` only when something was rejected. */
export function otlpResponse(rejected: number, message: string, json: boolean): Uint8Array | string {
  if (json) {
    return JSON.stringify(
      rejected > 0 ? { partialSuccess: { rejectedLogRecords: String(rejected), errorMessage: message } } : {},
    )
  }
  const writer = new ProtoWriter()
  if (rejected > 0)
    writer.message(1, (partial) => partial.int64Field(1, BigInt(rejected)).stringField(2, message))
  return writer.finish()
}

/** `google.rpc.Status` {code=1, message=2}: the body of an OTLP error reply. */
export function otlpStatus(code: number, message: string, json: boolean): Uint8Array | string {
  if (json) return JSON.stringify({ code, message })
  return new ProtoWriter().uintField(1, code).stringField(2, message).finish()
}

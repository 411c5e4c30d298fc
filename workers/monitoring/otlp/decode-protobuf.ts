/**
 * An OTLP `ExportMetricsServiceRequest` in protobuf (opentelemetry-proto
 * `collector/metrics/v1` and `metrics/v1`) → the model in model.ts. Unknown fields are
 * skipped; repeated scalars are read packed or unpacked, as protobuf requires.
 *
 * Guarantees: a malformed body throws `SampleError` (400) and nothing is stored. Cost: one
 * pass over the body.
 */
import { ProtobufError, ProtoReader, WIRE } from '../../platform/protobuf'
import { SampleError } from '../series'
import type { Attributes, Buckets, DataPoint, Metric, MetricKind, ResourceMetrics } from './model'

type Scalar = string | number | boolean | null | Scalar[] | { [key: string]: Scalar }

function anyValue(reader: ProtoReader): Scalar {
  let value: Scalar = null
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.field === 1 && f.wire === WIRE.bytes) value = reader.string()
    else if (f.field === 2 && f.wire === WIRE.varint) value = reader.bool()
    else if (f.field === 3 && f.wire === WIRE.varint) value = Number(reader.varint64(true))
    else if (f.field === 4 && f.wire === WIRE.fixed64) value = reader.double()
    else if (f.field === 5 && f.wire === WIRE.bytes) {
      const array = reader.message()
      const list: Scalar[] = []
      for (let g = array.next(); g; g = array.next()) {
        if (g.field === 1 && g.wire === WIRE.bytes) list.push(anyValue(array.message()))
        else array.skip(g.wire)
      }
      value = list
    } else if (f.field === 6 && f.wire === WIRE.bytes) {
      const list = reader.message()
      const map: Record<string, Scalar> = {}
      for (let g = list.next(); g; g = list.next()) {
        if (g.field === 1 && g.wire === WIRE.bytes) {
          const [k, v] = keyValue(list.message())
          map[k] = v
        } else list.skip(g.wire)
      }
      value = map
    } else reader.skip(f.wire)
  }
  return value
}

function keyValue(pair: ProtoReader): [string, Scalar] {
  let key = ''
  let value: Scalar = null
  for (let f = pair.next(); f; f = pair.next()) {
    if (f.field === 1 && f.wire === WIRE.bytes) key = pair.string()
    else if (f.field === 2 && f.wire === WIRE.bytes) value = anyValue(pair.message())
    else pair.skip(f.wire)
  }
  return [key, value]
}

/** An attribute value as label text (an empty value drops the label, as in Prometheus). */
export const labelText = (value: Scalar) =>
  value === null ? '' : typeof value === 'object' ? JSON.stringify(value) : String(value)

function attribute(reader: ProtoReader, into: Attributes): void {
  const [key, value] = keyValue(reader.message())
  into.push([key, labelText(value)])
}

const zigzag = (n: number) => (n % 2 === 0 ? n / 2 : -(n + 1) / 2)
const sfixed64 = (reader: ProtoReader) => Number(BigInt.asIntN(64, reader.fixed64()))

/** A repeated scalar field, packed (one length-delimited run) or one value per tag. */
function repeated(reader: ProtoReader, wire: number, scalar: number, read: (r: ProtoReader) => number) {
  if (wire === scalar) return [read(reader)]
  reader.expect(wire, WIRE.bytes)
  const run = reader.bytes()
  const out: number[] = []
  if (scalar === WIRE.fixed64) {
    if (run.length % 8 !== 0) throw new ProtobufError('packed fixed64 run of a length not divisible by 8')
    // A packed run is the values back to back: read each through a one-field reader.
    for (let i = 0; i < run.length; i += 8) {
      const one = new Uint8Array(9)
      one[0] = (1 << 3) | WIRE.fixed64
      one.set(run.subarray(i, i + 8), 1)
      const r = new ProtoReader(one)
      r.next()
      out.push(read(r))
    }
    return out
  }
  let value = 0
  let scale = 1
  for (const byte of run) {
    value += (byte & 0x7f) * scale
    scale *= 128
    if (byte < 0x80) {
      out.push(value)
      value = 0
      scale = 1
    }
  }
  if (scale !== 1) throw new ProtobufError('truncated varint in a packed run')
  return out
}

function buckets(reader: ProtoReader): Buckets {
  const out: Buckets = { offset: 0, counts: [] }
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.field === 1 && f.wire === WIRE.varint) out.offset = zigzag(reader.varint())
    else if (f.field === 2) out.counts.push(...repeated(reader, f.wire, WIRE.varint, (r) => r.varint()))
    else reader.skip(f.wire)
  }
  return out
}

function dataPoint(reader: ProtoReader, kind: MetricKind): DataPoint {
  const p: DataPoint = { attributes: [], timeNanos: 0n, flags: 0 }
  // Field numbers per message: attributes and flags move between point types.
  const attributesField = kind === 'histogram' ? 9 : kind === 'exponential_histogram' ? 1 : 7
  const flagsField = kind === 'histogram' || kind === 'exponential_histogram' ? 10 : 8
  for (let f = reader.next(); f; f = reader.next()) {
    const { field, wire } = f
    if (field === attributesField && wire === WIRE.bytes) attribute(reader, p.attributes)
    else if (field === 3 && wire === WIRE.fixed64) p.timeNanos = reader.fixed64()
    else if (field === flagsField && wire === WIRE.varint) p.flags = reader.varint()
    else if (kind === 'gauge' || kind === 'sum') {
      if (field === 4 && wire === WIRE.fixed64) p.value = reader.double()
      else if (field === 6 && wire === WIRE.fixed64) p.value = sfixed64(reader)
      else reader.skip(wire)
    } else if (field === 4 && wire === WIRE.fixed64) p.count = Number(reader.fixed64())
    else if (field === 5 && wire === WIRE.fixed64) p.sum = reader.double()
    else if (kind === 'histogram' && field === 6)
      p.bucketCounts = [
        ...(p.bucketCounts ?? []),
        ...repeated(reader, wire, WIRE.fixed64, (r) => Number(r.fixed64())),
      ]
    else if (kind === 'histogram' && field === 7)
      p.bounds = [...(p.bounds ?? []), ...repeated(reader, wire, WIRE.fixed64, (r) => r.double())]
    else if (kind === 'exponential_histogram' && field === 6 && wire === WIRE.varint)
      p.scale = zigzag(reader.varint())
    else if (kind === 'exponential_histogram' && field === 7 && wire === WIRE.fixed64)
      p.zeroCount = Number(reader.fixed64())
    else if (kind === 'exponential_histogram' && field === 8 && wire === WIRE.bytes)
      p.positive = buckets(reader.message())
    else if (kind === 'exponential_histogram' && field === 9 && wire === WIRE.bytes)
      p.negative = buckets(reader.message())
    else if (kind === 'exponential_histogram' && field === 14 && wire === WIRE.fixed64)
      p.zeroThreshold = reader.double()
    else if (kind === 'summary' && field === 6 && wire === WIRE.bytes) {
      const q = reader.message()
      let quantile = 0
      let value = 0
      for (let g = q.next(); g; g = q.next()) {
        if (g.field === 1 && g.wire === WIRE.fixed64) quantile = q.double()
        else if (g.field === 2 && g.wire === WIRE.fixed64) value = q.double()
        else q.skip(g.wire)
      }
      p.quantiles = [...(p.quantiles ?? []), [quantile, value]]
    } else reader.skip(wire)
  }
  return p
}

// Metric's data fields: gauge = 5, sum = 7, histogram = 9, exponential_histogram = 10, summary = 11.
const KINDS: Record<number, MetricKind> = {
  5: 'gauge',
  7: 'sum',
  9: 'histogram',
  10: 'exponential_histogram',
  11: 'summary',
}

function metric(reader: ProtoReader): Metric {
  const m: Metric = {
    name: '',
    description: '',
    unit: '',
    kind: undefined,
    monotonic: false,
    temporality: 0,
    points: [],
  }
  for (let f = reader.next(); f; f = reader.next()) {
    const kind = KINDS[f.field]
    if (f.field === 1 && f.wire === WIRE.bytes) m.name = reader.string()
    else if (f.field === 2 && f.wire === WIRE.bytes) m.description = reader.string()
    else if (f.field === 3 && f.wire === WIRE.bytes) m.unit = reader.string()
    else if (kind && f.wire === WIRE.bytes) {
      m.kind = kind
      const data = reader.message()
      for (let g = data.next(); g; g = data.next()) {
        if (g.field === 1 && g.wire === WIRE.bytes) m.points.push(dataPoint(data.message(), kind))
        else if (g.field === 2 && g.wire === WIRE.varint && kind !== 'gauge' && kind !== 'summary')
          m.temporality = data.varint()
        else if (g.field === 3 && g.wire === WIRE.varint && kind === 'sum') m.monotonic = data.bool()
        else data.skip(g.wire)
      }
    } else reader.skip(f.wire)
  }
  return m
}

function resourceMetrics(reader: ProtoReader): ResourceMetrics {
  const out: ResourceMetrics = { resource: [], metrics: [] }
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.field === 1 && f.wire === WIRE.bytes) {
      const resource = reader.message()
      for (let g = resource.next(); g; g = resource.next()) {
        if (g.field === 1 && g.wire === WIRE.bytes) attribute(resource, out.resource)
        else resource.skip(g.wire)
      }
    } else if (f.field === 2 && f.wire === WIRE.bytes) {
      const scope = reader.message()
      for (let g = scope.next(); g; g = scope.next()) {
        if (g.field === 2 && g.wire === WIRE.bytes) out.metrics.push(metric(scope.message()))
        else scope.skip(g.wire)
      }
    } else reader.skip(f.wire)
  }
  return out
}

export function decodeOtlpMetricsProtobuf(body: Uint8Array): ResourceMetrics[] {
  try {
    const request = new ProtoReader(body)
    const out: ResourceMetrics[] = []
    for (let f = request.next(); f; f = request.next()) {
      if (f.field === 1 && f.wire === WIRE.bytes) out.push(resourceMetrics(request.message()))
      else request.skip(f.wire)
    }
    return out
  } catch (error) {
    if (error instanceof ProtobufError) throw new SampleError(`invalid protobuf: ${error.message}`)
    throw error
  }
}

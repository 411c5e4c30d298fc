/**
 * Prometheus remote-write 1.0: a snappy block holding a protobuf `prometheus.WriteRequest`
 * (`repeated TimeSeries timeseries = 1`; TimeSeries: `repeated Label labels = 1`,
 * `repeated Sample samples = 2`; Label: name = 1, value = 2; Sample: double value = 1,
 * int64 timestamp = 2; MetricMetadata, field 3: type = 1, metric_family_name = 2, help = 4,
 * unit = 5). Exemplars and native histograms are skipped. A sample whose value has the bits of
 * Prometheus's staleness marker is read as one (`Series.stale`).
 *
 * Guarantees: any malformed body (including a series naming one label twice) throws
 * `SampleError` (400) before anything is stored; the decompressed size is bounded. A label with
 * an empty value is no label, as in Prometheus. Cost: O(body bytes).
 */
import { ProtoReader, ProtoWriter, WIRE } from '../platform/protobuf'
import { SnappyError, snappyCompress, snappyDecompress } from '../platform/snappy'
import { METRIC_TYPES, type MetricMetadata } from './metadata'
import { type Labels, SampleError, type Series, STALE_MARKER_BITS } from './series'

function int64(reader: ProtoReader): number {
  const raw = reader.varint()
  // Negative int64 values arrive as 10-byte two's complement varints (≥ 2^63).
  return raw >= 2 ** 63 ? raw - 2 ** 64 : raw
}

const float64 = new DataView(new ArrayBuffer(8))

function floatOfBits(bits: bigint): number {
  float64.setBigUint64(0, bits)
  return float64.getFloat64(0)
}

function readSeries(reader: ProtoReader): Series {
  const labels: Labels = {}
  const names = new Set<string>()
  const times: number[] = []
  const values: number[] = []
  const stale: number[] = []
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.field === 1 && f.wire === WIRE.bytes) {
      const label = reader.message()
      let name = ''
      let value = ''
      for (let g = label.next(); g; g = label.next()) {
        if (g.field === 1 && g.wire === WIRE.bytes) name = label.string()
        else if (g.field === 2 && g.wire === WIRE.bytes) value = label.string()
        else label.skip(g.wire)
      }
      if (names.has(name)) throw new SampleError(`duplicate label name ${JSON.stringify(name)}`)
      names.add(name)
      if (value !== '') labels[name] = value
    } else if (f.field === 2 && f.wire === WIRE.bytes) {
      const sample = reader.message()
      let bits = 0n
      let time = 0
      for (let g = sample.next(); g; g = sample.next()) {
        if (g.field === 1 && g.wire === WIRE.fixed64) bits = sample.fixed64()
        else if (g.field === 2 && g.wire === WIRE.varint) time = int64(sample)
        else sample.skip(g.wire)
      }
      if (bits === STALE_MARKER_BITS) stale.push(time)
      else {
        times.push(time)
        values.push(floatOfBits(bits))
      }
    } else reader.skip(f.wire)
  }
  return { labels, times, values, ...(stale.length > 0 ? { stale } : {}) }
}

function readMetadata(reader: ProtoReader): MetricMetadata {
  const entry: MetricMetadata = { metric: '', type: 'unknown', help: '', unit: '' }
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.field === 1 && f.wire === WIRE.varint) entry.type = METRIC_TYPES[reader.varint()] ?? 'unknown'
    else if (f.field === 2 && f.wire === WIRE.bytes) entry.metric = reader.string()
    else if (f.field === 4 && f.wire === WIRE.bytes) entry.help = reader.string()
    else if (f.field === 5 && f.wire === WIRE.bytes) entry.unit = reader.string()
    else reader.skip(f.wire)
  }
  return entry
}

export interface WriteRequest {
  series: Series[]
  metadata: MetricMetadata[]
}

/** Decodes a remote-write body (snappy block) into series and metric metadata. */
export function decodeRemoteWrite(body: Uint8Array, maxBytes: number): WriteRequest {
  let raw: Uint8Array
  try {
    raw = snappyDecompress(body, maxBytes)
  } catch (error) {
    if (error instanceof SnappyError) throw new SampleError(error.message, error.tooLarge ? 413 : 400)
    throw error
  }
  try {
    const reader = new ProtoReader(raw)
    const out: WriteRequest = { series: [], metadata: [] }
    for (let f = reader.next(); f; f = reader.next()) {
      if (f.field === 1 && f.wire === WIRE.bytes) out.series.push(readSeries(reader.message()))
      else if (f.field === 3 && f.wire === WIRE.bytes) {
        const entry = readMetadata(reader.message())
        if (/^[a-zA-Z_:][a-zA-Z0-9_:]*$/.test(entry.metric)) out.metadata.push(entry)
      } else reader.skip(f.wire)
    }
    return out
  } catch (error) {
    if (error instanceof SampleError) throw error
    throw new SampleError(`invalid WriteRequest: ${(error as Error).message}`)
  }
}

/** Encodes series as a remote-write body (what a Prometheus server sends); used by tests and the bench. */
export function encodeRemoteWrite(series: Series[], metadata: MetricMetadata[] = []): Uint8Array {
  const w = new ProtoWriter()
  for (const m of metadata) {
    w.message(3, (entry) =>
      entry
        .int64Field(1, BigInt(METRIC_TYPES.indexOf(m.type)))
        .stringField(2, m.metric)
        .stringField(4, m.help)
        .stringField(5, m.unit),
    )
  }
  for (const s of series) {
    w.message(1, (ts) => {
      for (const [name, value] of Object.entries(s.labels).sort(([a], [b]) => (a < b ? -1 : 1))) {
        ts.message(1, (l) => l.stringField(1, name).stringField(2, value))
      }
      s.times.forEach((t, i) => {
        ts.message(2, (m) => m.doubleField(1, s.values[i] as number).int64Field(2, BigInt(t)))
      })
      for (const t of s.stale ?? []) {
        ts.message(2, (m) => m.fixed64Field(1, STALE_MARKER_BITS).int64Field(2, BigInt(t)))
      }
    })
  }
  return snappyCompress(w.finish())
}

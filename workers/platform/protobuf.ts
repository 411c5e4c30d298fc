/**
 * The protobuf wire format, without generated code: a reader that walks a message's fields
 * and a writer that builds one. Blocks describe their messages as small functions over
 * these (Loki's PushRequest, OTLP logs and metrics, Prometheus remote write).
 *
 * Guarantees: the reader never reads past the end of its buffer: a truncated varint, a
 * length running past the end, a field number of 0 or a wire type of 3, 4, 6 or 7 (groups
 * and undefined types) throws `ProtobufError`, so a malformed payload is one error, never a
 * partial object. 64-bit integers come back as bigint (`varint64`, `fixed64`) or, where a
 * number is exact enough, as a number (`varint`, exact up to 2^53). Cost: O(bytes), no copies
 * (`bytes` returns a view into the buffer).
 */

export class ProtobufError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'ProtobufError'
  }
}

export const WIRE = { varint: 0, fixed64: 1, bytes: 2, fixed32: 5 } as const

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const encoder = new TextEncoder()

export class ProtoReader {
  private pos: number
  private readonly end: number
  private readonly view: DataView

  constructor(
    private readonly buf: Uint8Array,
    start = 0,
    end = buf.length,
  ) {
    this.pos = start
    this.end = end
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
  }

  /** The next field's number and wire type, or undefined at the end of the message. */
  next(): { field: number; wire: number } | undefined {
    if (this.pos >= this.end) return undefined
    const key = this.varint()
    const field = Math.floor(key / 8)
    const wire = key % 8
    if (field === 0) throw new ProtobufError('field number 0')
    if (wire !== 0 && wire !== 1 && wire !== 2 && wire !== 5) throw new ProtobufError(`wire type ${wire}`)
    return { field, wire }
  }

  /** An unsigned varint as a number (exact below 2^53). */
  varint(): number {
    let result = 0
    let scale = 1
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint')
      const byte = this.buf[this.pos++] as number
      result += (byte & 0x7f) * scale
      if (byte < 0x80) return result
      scale *= 128
    }
    throw new ProtobufError('varint longer than 10 bytes')
  }

  /** A varint as a 64-bit bigint; `signed` reads int64 (two's complement). */
  varint64(signed = false): bigint {
    let result = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new ProtobufError('truncated varint')
      const byte = this.buf[this.pos++] as number
      result |= BigInt(byte & 0x7f) << shift
      if (byte < 0x80) return signed ? BigInt.asIntN(64, result) : BigInt.asUintN(64, result)
      shift += 7n
    }
    throw new ProtobufError('varint longer than 10 bytes')
  }

  bool(): boolean {
    return this.varint() !== 0
  }

  fixed64(): bigint {
    this.need(8)
    const value = this.view.getBigUint64(this.pos, true)
    this.pos += 8
    return value
  }

  fixed32(): number {
    this.need(4)
    const value = this.view.getUint32(this.pos, true)
    this.pos += 4
    return value
  }

  double(): number {
    this.need(8)
    const value = this.view.getFloat64(this.pos, true)
    this.pos += 8
    return value
  }

  /** A length-delimited field's bytes (a view, not a copy). */
  bytes(): Uint8Array {
    const length = this.varint()
    this.need(length)
    const bytes = this.buf.subarray(this.pos, this.pos + length)
    this.pos += length
    return bytes
  }

  /** A string field; invalid UTF-8 is an error. */
  string(): string {
    try {
      return decoder.decode(this.bytes())
    } catch (error) {
      if (error instanceof ProtobufError) throw error
      throw new ProtobufError('invalid UTF-8 in a string field')
    }
  }

  /** A reader over an embedded message. */
  message(): ProtoReader {
    const length = this.varint()
    this.need(length)
    const reader = new ProtoReader(this.buf, this.pos, this.pos + length)
    this.pos += length
    return reader
  }

  /** Skips a field of wire type `wire` (unknown fields are skipped, as protobuf requires). */
  skip(wire: number): void {
    if (wire === WIRE.varint) this.varint()
    else if (wire === WIRE.fixed64) this.advance(8)
    else if (wire === WIRE.bytes) this.advance(this.varint())
    else if (wire === WIRE.fixed32) this.advance(4)
    else throw new ProtobufError(`wire type ${wire}`)
  }

  /** Throws unless the field has the wire type its schema says. */
  expect(actual: number, wire: number): void {
    if (actual !== wire) throw new ProtobufError(`wire type ${actual} where ${wire} was expected`)
  }

  private advance(count: number): void {
    this.need(count)
    this.pos += count
  }

  private need(count: number): void {
    if (this.pos + count > this.end) throw new ProtobufError('field runs past the end of the message')
  }
}

/** Builds a message; nested messages are built with `message(field, build)`. */
export class ProtoWriter {
  private chunks: number[] = []

  tag(field: number, wire: number): this {
    return this.uint(field * 8 + wire)
  }

  /** An unsigned varint from a non-negative safe integer. */
  uint(value: number): this {
    let rest = value
    while (rest >= 0x80) {
      this.chunks.push((rest % 128) | 0x80)
      rest = Math.floor(rest / 128)
    }
    this.chunks.push(rest)
    return this
  }

  /** A varint from a bigint (int64 values are written as their 64-bit two's complement). */
  uint64(value: bigint): this {
    let rest = BigInt.asUintN(64, value)
    while (rest >= 0x80n) {
      this.chunks.push(Number(rest & 0x7fn) | 0x80)
      rest >>= 7n
    }
    this.chunks.push(Number(rest))
    return this
  }

  fixed64(value: bigint): this {
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setBigUint64(0, BigInt.asUintN(64, value), true)
    for (const byte of bytes) this.chunks.push(byte)
    return this
  }

  fixed32(value: number): this {
    const bytes = new Uint8Array(4)
    new DataView(bytes.buffer).setUint32(0, value >>> 0, true)
    for (const byte of bytes) this.chunks.push(byte)
    return this
  }

  double(value: number): this {
    const bytes = new Uint8Array(8)
    new DataView(bytes.buffer).setFloat64(0, value, true)
    for (const byte of bytes) this.chunks.push(byte)
    return this
  }

  rawBytes(bytes: Uint8Array): this {
    this.uint(bytes.length)
    for (const byte of bytes) this.chunks.push(byte)
    return this
  }

  // Field helpers: tag + value.
  uintField(field: number, value: number): this {
    return this.tag(field, WIRE.varint).uint(value)
  }

  int64Field(field: number, value: bigint): this {
    return this.tag(field, WIRE.varint).uint64(value)
  }

  fixed64Field(field: number, value: bigint): this {
    return this.tag(field, WIRE.fixed64).fixed64(value)
  }

  doubleField(field: number, value: number): this {
    return this.tag(field, WIRE.fixed64).double(value)
  }

  bytesField(field: number, value: Uint8Array): this {
    return this.tag(field, WIRE.bytes).rawBytes(value)
  }

  stringField(field: number, value: string): this {
    return this.bytesField(field, encoder.encode(value))
  }

  message(field: number, build: (writer: ProtoWriter) => void): this {
    const inner = new ProtoWriter()
    build(inner)
    return this.bytesField(field, inner.finish())
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.chunks)
  }
}

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ProtobufError, ProtoReader, ProtoWriter, WIRE } from '../../workers/platform/protobuf'
import { SnappyError, snappyCompress, snappyDecompress } from '../../workers/platform/snappy'

function readAll(bytes: Uint8Array) {
  const reader = new ProtoReader(bytes)
  const fields: Array<{ field: number; wire: number; value: unknown }> = []
  for (let f = reader.next(); f; f = reader.next()) {
    if (f.wire === WIRE.varint) fields.push({ ...f, value: reader.varint64() })
    else if (f.wire === WIRE.fixed64) fields.push({ ...f, value: reader.fixed64() })
    else if (f.wire === WIRE.fixed32) fields.push({ ...f, value: reader.fixed32() })
    else fields.push({ ...f, value: reader.string() })
  }
  return fields
}

describe('protobuf wire format', () => {
  it('round-trips every wire type', () => {
    const bytes = new ProtoWriter()
      .uintField(1, 150)
      .int64Field(2, -5n)
      .fixed64Field(3, 2n ** 63n + 7n)
      .stringField(4, 'héllo')
      .doubleField(5, 3.25)
      .tag(6, WIRE.fixed32)
      .fixed32(0xdeadbeef)
      .finish()
    const reader = new ProtoReader(bytes)
    expect(reader.next()).toEqual({ field: 1, wire: 0 })
    expect(reader.varint()).toBe(150)
    expect(reader.next()).toEqual({ field: 2, wire: 0 })
    expect(reader.varint64(true)).toBe(-5n)
    expect(reader.next()).toEqual({ field: 3, wire: 1 })
    expect(reader.fixed64()).toBe(2n ** 63n + 7n)
    expect(reader.next()).toEqual({ field: 4, wire: 2 })
    expect(reader.string()).toBe('héllo')
    expect(reader.next()).toEqual({ field: 5, wire: 1 })
    expect(reader.double()).toBe(3.25)
    expect(reader.next()).toEqual({ field: 6, wire: 5 })
    expect(reader.fixed32()).toBe(0xdeadbeef)
    expect(reader.next()).toBeUndefined()
  })

  it('encodes 150 as the reference bytes 08 96 01', () => {
    expect([...new ProtoWriter().uintField(1, 150).finish()]).toEqual([0x08, 0x96, 0x01])
  })

  it('reads nested messages and skips unknown fields', () => {
    const bytes = new ProtoWriter()
      .uintField(9, 1)
      .message(1, (m) => m.stringField(1, 'inner').fixed64Field(7, 1n))
      .finish()
    const reader = new ProtoReader(bytes)
    let inner = ''
    for (let f = reader.next(); f; f = reader.next()) {
      if (f.field !== 1) {
        reader.skip(f.wire)
        continue
      }
      const m = reader.message()
      for (let g = m.next(); g; g = m.next()) {
        if (g.field === 1) inner = m.string()
        else m.skip(g.wire)
      }
    }
    expect(inner).toBe('inner')
  })

  it('round-trips arbitrary varints and strings', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.string(), (n, s) => {
        const fields = readAll(new ProtoWriter().int64Field(1, n).stringField(2, s).finish())
        expect(fields).toEqual([
          { field: 1, wire: 0, value: n },
          { field: 2, wire: 2, value: s },
        ])
      }),
    )
  })

  it.each([
    ['a truncated varint', [0x08, 0x96]],
    ['a length past the end', [0x0a, 0x05, 0x61]],
    ['field number 0', [0x00, 0x01]],
    ['a group wire type', [0x0b]],
    ['invalid UTF-8 in a string', [0x0a, 0x02, 0xff, 0xfe]],
  ])('rejects %s with a ProtobufError', (_, bytes) => {
    expect(() => readAll(Uint8Array.from(bytes))).toThrow(ProtobufError)
  })

  it('never throws anything but ProtobufError on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        try {
          readAll(bytes)
        } catch (error) {
          expect(error).toBeInstanceOf(ProtobufError)
        }
      }),
    )
  })
})

describe('snappy (block format)', () => {
  it('round-trips bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        expect(snappyDecompress(snappyCompress(bytes), 1 << 20)).toEqual(bytes)
      }),
    )
  })

  it('compresses repetitive logs', () => {
    const text = new TextEncoder().encode('level=info msg="request served" status=200\n'.repeat(200))
    expect(snappyCompress(text).length).toBeLessThan(text.length / 5)
  })

  it('refuses a block declaring more than the limit before decompressing', () => {
    const block = snappyCompress(new Uint8Array(10_000))
    expect(() => snappyDecompress(block, 1000)).toThrow(expect.objectContaining({ tooLarge: true }))
  })

  it('rejects corrupt blocks with SnappyError', () => {
    expect(() => snappyDecompress(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), 1000)).toThrow(
      SnappyError,
    )
    expect(() => snappyDecompress(Uint8Array.from([0x0a, 0xf0, 0x01]), 1000)).toThrow(SnappyError)
    expect(() => snappyDecompress(new TextEncoder().encode('{"streams":[]}'), 1 << 20)).toThrow(SnappyError)
  })
})

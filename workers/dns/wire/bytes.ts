/**
 * Byte-level reading and writing of DNS messages: a bounds-checked reader (every read past
 * the end throws `WireError`, which the server answers with FORMERR) and a growing writer
 * with RFC 1035 §4.1.4 name compression. Names are read with pointer loops refused (a
 * pointer must point backwards) and bounded at 255 octets.
 */
import { labelsOf, lowerName, MAX_NAME_OCTETS, nameOf } from './names'

/** A message that does not parse: the server answers FORMERR. */
export class WireError extends Error {}

export class Reader {
  offset = 0
  constructor(readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset
  }

  need(count: number): void {
    if (count < 0 || this.offset + count > this.bytes.length) throw new WireError('Message ends early')
  }

  u8(): number {
    this.need(1)
    return this.bytes[this.offset++] as number
  }

  u16(): number {
    this.need(2)
    const value = ((this.bytes[this.offset] as number) << 8) | (this.bytes[this.offset + 1] as number)
    this.offset += 2
    return value
  }

  u32(): number {
    return this.u16() * 65536 + this.u16()
  }

  take(count: number): Uint8Array {
    this.need(count)
    const slice = this.bytes.slice(this.offset, this.offset + count)
    this.offset += count
    return slice
  }

  /** A possibly compressed name at the current offset. */
  name(): string {
    const labels: string[] = []
    let at = this.offset
    let jumped = false
    let octets = 1
    for (;;) {
      if (at >= this.bytes.length) throw new WireError('Name runs past the end')
      const length = this.bytes[at] as number
      if (length === 0) {
        at++
        break
      }
      if ((length & 0xc0) === 0xc0) {
        if (at + 1 >= this.bytes.length) throw new WireError('Truncated pointer')
        const target = ((length & 0x3f) << 8) | (this.bytes[at + 1] as number)
        if (target >= at) throw new WireError('Compression pointer does not point backwards')
        if (!jumped) this.offset = at + 2
        jumped = true
        at = target
        continue
      }
      if ((length & 0xc0) !== 0) throw new WireError('Unknown label type')
      if (at + 1 + length > this.bytes.length) throw new WireError('Label runs past the end')
      octets += length + 1
      if (octets > MAX_NAME_OCTETS) throw new WireError('Name over 255 octets')
      labels.push(String.fromCharCode(...this.bytes.subarray(at + 1, at + 1 + length)))
      at += length + 1
    }
    if (!jumped) this.offset = at
    return nameOf(labels)
  }
}

export class Writer {
  private buffer = new Uint8Array(512)
  length = 0
  /** Lowercased name suffix → offset of its first occurrence (compression targets). */
  private readonly suffixes = new Map<string, number>()

  private ensure(extra: number): void {
    if (this.length + extra <= this.buffer.length) return
    let size = this.buffer.length * 2
    while (size < this.length + extra) size *= 2
    const grown = new Uint8Array(size)
    grown.set(this.buffer.subarray(0, this.length))
    this.buffer = grown
  }

  u8(value: number): void {
    this.ensure(1)
    this.buffer[this.length++] = value & 0xff
  }

  u16(value: number): void {
    this.u8(value >>> 8)
    this.u8(value)
  }

  u32(value: number): void {
    this.u16(Math.floor(value / 65536) & 0xffff)
    this.u16(value & 0xffff)
  }

  bytes(data: Uint8Array): void {
    this.ensure(data.length)
    this.buffer.set(data, this.length)
    this.length += data.length
  }

  /** Overwrites a u16 written earlier (RDLENGTH, section counts). */
  patchU16(at: number, value: number): void {
    this.buffer[at] = (value >>> 8) & 0xff
    this.buffer[at + 1] = value & 0xff
  }

  /** A name, compressed against every name written before when `compress` (the default). */
  name(name: string, compress = true): void {
    const labels = labelsOf(name)
    // Suffix keys from the right: lowercase labels joined by a separator no label byte can be.
    const keys: string[] = new Array(labels.length)
    let key = ''
    for (let i = labels.length - 1; i >= 0; i--) {
      key = `${lowerName(labels[i] as string)}\u0100${key}`
      keys[i] = key
    }
    for (let i = 0; i < labels.length; i++) {
      const earlier = compress ? this.suffixes.get(keys[i] as string) : undefined
      if (earlier !== undefined) {
        this.u16(0xc000 | earlier)
        return
      }
      if (compress && this.length < 0x4000) this.suffixes.set(keys[i] as string, this.length)
      const label = labels[i] as string
      this.u8(label.length)
      for (let j = 0; j < label.length; j++) this.u8(label.charCodeAt(j))
    }
    this.u8(0)
  }

  /** Drops everything after `length` (and compression targets there): undoes a partial write. */
  truncate(length: number): void {
    this.length = length
    for (const [key, at] of this.suffixes) if (at >= length) this.suffixes.delete(key)
  }

  finish(): Uint8Array {
    return this.buffer.slice(0, this.length)
  }
}

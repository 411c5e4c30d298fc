/**
 * The checksums of the AWS wires, computed incrementally over a stream: CRC-32 (ISO-HDLC),
 * CRC-32C (Castagnoli) and CRC-64/NVME (the defaults of current AWS SDKs), plus MD5, which
 * WebCrypto lacks (SQS message digests, S3 part ETags on hosts without MD5 streams).
 *
 * Guarantees: results equal the SDKs' (`@aws-crypto/crc32`, `crc32c`, `@smithy` CRC64-NVME)
 * as big-endian bytes, and RFC 1321 MD5. Costs: one table lookup per byte (slicing-by-4 for
 * the CRC-32s); CRC-64 works on two 32-bit halves to avoid BigInt.
 */

function crc32Tables(polynomial: number): Uint32Array[] {
  const tables = [
    new Uint32Array(256),
    new Uint32Array(256),
    new Uint32Array(256),
    new Uint32Array(256),
  ] as const
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ polynomial : c >>> 1
    tables[0][n] = c >>> 0
  }
  for (let n = 0; n < 256; n++) {
    for (let t = 1; t < 4; t++) {
      const prev = (tables[t - 1] as Uint32Array)[n] as number
      ;(tables[t] as Uint32Array)[n] = ((prev >>> 8) ^ (tables[0][prev & 0xff] as number)) >>> 0
    }
  }
  return [...tables]
}

export interface Checksum {
  update(bytes: Uint8Array): void
  /** The checksum's bytes (big-endian for the CRCs). */
  digest(): Uint8Array
}

class Crc32 implements Checksum {
  private crc = 0xffffffff
  constructor(private readonly tables: Uint32Array[]) {}
  update(bytes: Uint8Array): void {
    const [t0, t1, t2, t3] = this.tables as [Uint32Array, Uint32Array, Uint32Array, Uint32Array]
    let crc = this.crc
    let i = 0
    for (; i + 4 <= bytes.length; i += 4) {
      crc ^=
        (bytes[i] as number) |
        ((bytes[i + 1] as number) << 8) |
        ((bytes[i + 2] as number) << 16) |
        ((bytes[i + 3] as number) << 24)
      crc =
        (t3[crc & 0xff] as number) ^
        (t2[(crc >>> 8) & 0xff] as number) ^
        (t1[(crc >>> 16) & 0xff] as number) ^
        (t0[crc >>> 24] as number)
    }
    for (; i < bytes.length; i++) crc = (t0[(crc ^ (bytes[i] as number)) & 0xff] as number) ^ (crc >>> 8)
    this.crc = crc >>> 0
  }
  digest(): Uint8Array {
    const value = (this.crc ^ 0xffffffff) >>> 0
    return new Uint8Array([value >>> 24, (value >>> 16) & 0xff, (value >>> 8) & 0xff, value & 0xff])
  }
}

let crc32Table: Uint32Array[] | undefined
let crc32cTable: Uint32Array[] | undefined
let crc64Table: [Uint32Array, Uint32Array] | undefined

function crc64Tables(): [Uint32Array, Uint32Array] {
  // Reflected polynomial 0x9a6c9329ac4bc9b5 as high and low halves.
  const polyHi = 0x9a6c9329
  const polyLo = 0xac4bc9b5
  const hi = new Uint32Array(256)
  const lo = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let h = 0
    let l = n
    for (let k = 0; k < 8; k++) {
      const bit = l & 1
      l = ((l >>> 1) | ((h & 1) << 31)) >>> 0
      h = h >>> 1
      if (bit) {
        h = (h ^ polyHi) >>> 0
        l = (l ^ polyLo) >>> 0
      }
    }
    hi[n] = h
    lo[n] = l
  }
  return [hi, lo]
}

class Crc64Nvme implements Checksum {
  private hi = 0xffffffff
  private lo = 0xffffffff
  constructor(private readonly table: [Uint32Array, Uint32Array]) {}
  update(bytes: Uint8Array): void {
    const [th, tl] = this.table
    let h = this.hi
    let l = this.lo
    for (let i = 0; i < bytes.length; i++) {
      const index = (l ^ (bytes[i] as number)) & 0xff
      l = (((l >>> 8) | (h << 24)) ^ (tl[index] as number)) >>> 0
      h = ((h >>> 8) ^ (th[index] as number)) >>> 0
    }
    this.hi = h
    this.lo = l
  }
  digest(): Uint8Array {
    const h = (this.hi ^ 0xffffffff) >>> 0
    const l = (this.lo ^ 0xffffffff) >>> 0
    return new Uint8Array([
      h >>> 24,
      (h >>> 16) & 0xff,
      (h >>> 8) & 0xff,
      h & 0xff,
      l >>> 24,
      (l >>> 16) & 0xff,
      (l >>> 8) & 0xff,
      l & 0xff,
    ])
  }
}

export function crc32(): Checksum {
  crc32Table ??= crc32Tables(0xedb88320)
  return new Crc32(crc32Table)
}

export function crc32c(): Checksum {
  crc32cTable ??= crc32Tables(0x82f63b78)
  return new Crc32(crc32cTable)
}

export function crc64nvme(): Checksum {
  crc64Table ??= crc64Tables()
  return new Crc64Nvme(crc64Table)
}

const S = [
  7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9,
  14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15,
  21, 6, 10, 15, 21,
]
const K = Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) >>> 0)

/** MD5 of bytes (RFC 1321), for small inputs such as SQS message attributes. */
export function md5(bytes: Uint8Array): Uint8Array {
  const bitLength = bytes.length * 8
  const padded = new Uint8Array((((bytes.length + 8) >>> 6) + 1) << 6)
  padded.set(bytes)
  padded[bytes.length] = 0x80
  const view = new DataView(padded.buffer)
  view.setUint32(padded.length - 8, bitLength >>> 0, true)
  view.setUint32(padded.length - 4, Math.floor(bitLength / 2 ** 32), true)
  let a0 = 0x67452301
  let b0 = 0xefcdab89
  let c0 = 0x98badcfe
  let d0 = 0x10325476
  const m = new Uint32Array(16)
  for (let offset = 0; offset < padded.length; offset += 64) {
    for (let j = 0; j < 16; j++) m[j] = view.getUint32(offset + j * 4, true)
    let a = a0
    let b = b0
    let c = c0
    let d = d0
    for (let i = 0; i < 64; i++) {
      let f: number
      let g: number
      if (i < 16) [f, g] = [(b & c) | (~b & d), i]
      else if (i < 32) [f, g] = [(d & b) | (~d & c), (5 * i + 1) % 16]
      else if (i < 48) [f, g] = [b ^ c ^ d, (3 * i + 5) % 16]
      else [f, g] = [c ^ (b | ~d), (7 * i) % 16]
      f = (f + a + (K[i] as number) + (m[g] as number)) >>> 0
      a = d
      d = c
      c = b
      const s = S[i] as number
      b = (b + ((f << s) | (f >>> (32 - s)))) >>> 0
    }
    a0 = (a0 + a) >>> 0
    b0 = (b0 + b) >>> 0
    c0 = (c0 + c) >>> 0
    d0 = (d0 + d) >>> 0
  }
  const out = new Uint8Array(16)
  const outView = new DataView(out.buffer)
  for (const [i, word] of [a0, b0, c0, d0].entries()) outView.setUint32(i * 4, word, true)
  return out
}

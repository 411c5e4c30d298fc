/**
 * The two DNSSEC field formats: NSEC type bitmaps (RFC 4034 §4.1.2, windows of up to 32
 * octets, types ascending) and RRSIG times (`YYYYMMDDHHmmSS` in UTC, or seconds).
 */
import type { Reader, Writer } from './bytes'
import { parseUint } from './text'

/** NSEC type bitmaps (RFC 4034 §4.1.2): windows of up to 32 octets. */
export function writeBitmap(w: Writer, types: number[]): void {
  const sorted = [...new Set(types)].sort((a, b) => a - b)
  for (let window = 0; window < 256; window++) {
    const inWindow = sorted.filter((type) => type >> 8 === window)
    if (inWindow.length === 0) continue
    const bits = new Uint8Array(((Math.max(...inWindow) & 0xff) >> 3) + 1)
    for (const type of inWindow)
      bits[(type & 0xff) >> 3] = (bits[(type & 0xff) >> 3] as number) | (0x80 >> (type & 7))
    w.u8(window)
    w.u8(bits.length)
    w.bytes(bits)
  }
}

export function readBitmap(r: Reader): number[] {
  const types: number[] = []
  while (r.remaining > 0) {
    const window = r.u8()
    const bits = r.take(r.u8())
    bits.forEach((byte, i) => {
      for (let bit = 0; bit < 8; bit++) if (byte & (0x80 >> bit)) types.push(window * 256 + i * 8 + bit)
    })
  }
  return types
}

/** RRSIG times: `YYYYMMDDHHmmSS` (UTC) or seconds since the epoch. */
export function parseTime(text: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text)
  if (!m) return parseUint(text, 4294967295, 'time')
  return (
    Date.UTC(
      +(m[1] as string),
      +(m[2] as string) - 1,
      +(m[3] as string),
      +(m[4] as string),
      +(m[5] as string),
      +(m[6] as string),
    ) / 1000
  )
}

export function formatTime(seconds: number): string {
  return new Date(seconds * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)
}

/**
 * Snappy, block format (what Loki's and Prometheus's remote-write protocols send: one
 * block, its uncompressed length as a leading varint; not the framing format). A thin port
 * over snappyjs that makes its failures one `SnappyError` and bounds the output.
 *
 * Guarantees: `decompress` reads the declared length first and refuses anything over
 * `maxBytes` before allocating (a 20-byte "bomb" cannot claim gigabytes), and any corrupt
 * stream throws `SnappyError`, never a partial result. Cost: O(output bytes).
 */
import { compress, uncompress } from 'snappyjs'

export class SnappyError extends Error {
  constructor(
    message: string,
    /** True when the stream is valid but declares more than the limit allows. */
    readonly tooLarge = false,
  ) {
    super(message)
    this.name = 'SnappyError'
  }
}

/** The uncompressed length a block declares, or undefined when its header is not a varint. */
export function snappyDeclaredLength(block: Uint8Array): number | undefined {
  let result = 0
  let scale = 1
  for (let i = 0; i < 5 && i < block.length; i++) {
    const byte = block[i] as number
    result += (byte & 0x7f) * scale
    if (byte < 0x80) return result
    scale *= 128
  }
  return undefined
}

export function snappyDecompress(block: Uint8Array, maxBytes: number): Uint8Array {
  const declared = snappyDeclaredLength(block)
  if (declared === undefined) throw new SnappyError('invalid snappy block header')
  if (declared > maxBytes) {
    throw new SnappyError(`snappy block declares ${declared} bytes, over the ${maxBytes}-byte limit`, true)
  }
  try {
    return uncompress(block, maxBytes)
  } catch {
    throw new SnappyError('invalid snappy block')
  }
}

export function snappyCompress(bytes: Uint8Array): Uint8Array {
  return compress(bytes)
}

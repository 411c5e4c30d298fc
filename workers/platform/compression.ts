/**
 * gzip through the runtime's CompressionStream / DecompressionStream (Workers, Node, Deno,
 * Bun), with a bound on what decompression may produce.
 *
 * Guarantees: `gunzip` stops and throws `DecompressionError` (`tooLarge` set) as soon as the
 * output passes `maxBytes`, so a small bomb never fills memory; a corrupt stream throws
 * `DecompressionError`. Cost: O(bytes), streaming.
 */
import { readBounded } from './streams'

export class DecompressionError extends Error {
  constructor(
    message: string,
    readonly tooLarge = false,
  ) {
    super(message)
    this.name = 'DecompressionError'
  }
}

const collect = (stream: ReadableStream<Uint8Array>, maxBytes: number) =>
  readBounded(
    stream,
    maxBytes,
    () => new DecompressionError(`decompressed body is over the ${maxBytes}-byte limit`, true),
  )

export async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes]).stream().pipeThrough(new CompressionStream('gzip'))
  return collect(stream, Number.MAX_SAFE_INTEGER)
}

export async function gunzip(bytes: Uint8Array, maxBytes: number): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream('gzip'))
    return await collect(stream, maxBytes)
  } catch (error) {
    if (error instanceof DecompressionError) throw error
    throw new DecompressionError('invalid gzip stream')
  }
}

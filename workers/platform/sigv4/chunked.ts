/**
 * Decodes an `aws-chunked` body (`Content-Encoding: aws-chunked`) as a stream: chunks of
 * `<hex size>[;chunk-signature=<sig>]\r\n<bytes>\r\n`, a zero-size chunk, then optional
 * trailer lines (`x-amz-checksum-crc32:<b64>`, `x-amz-trailer-signature:<sig>`) and a blank line.
 *
 * Guarantees: with `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` every chunk's signature
 * is checked against the chain seeded by the request's signature before its bytes are
 * passed on, and the trailer signature over the trailer lines; the decoded length must
 * equal `x-amz-decoded-content-length`. Any failure errors the stream with a SigV4Error,
 * so the consumer (an object store write) aborts. Costs: unsigned chunks stream through
 * unbuffered; a signed chunk is held until verified (one chunk, at most 16 MiB).
 */

import { concatBytes } from '../encoding'
import { EMPTY_SHA256, hmac, scopeString, sha256HexOf, toHex } from './signing'
import { SigV4Error, type Verified } from './verify'

const MAX_SIGNED_CHUNK = 16 * 1024 * 1024
const CRLF = new Uint8Array([13, 10])

export interface ChunkedOptions {
  verified: Pick<Verified<unknown>, 'key' | 'amzDate' | 'scope' | 'signature'>
  signed: boolean
  decodedLength: number | undefined
}

export interface DecodedBody {
  body: ReadableStream<Uint8Array>
  /** Trailer headers (lowercase names) once the body has been read to its end. */
  trailers: Promise<Map<string, string>>
}

function indexOfCrlf(buffer: Uint8Array, from: number): number {
  for (let i = from; i + 1 < buffer.length; i++) if (buffer[i] === 13 && buffer[i + 1] === 10) return i
  return -1
}

export function decodeAwsChunked(input: ReadableStream<Uint8Array>, options: ChunkedOptions): DecodedBody {
  const { verified, signed } = options
  const scope = scopeString(verified.scope)
  let previous = verified.signature
  let buffer: Uint8Array = new Uint8Array(0)
  let state: 'header' | 'data' | 'data-end' | 'trailer' | 'done' = 'header'
  let remaining = 0
  let chunkSignature = ''
  let pending: Uint8Array[] = []
  let decoded = 0
  const trailers = new Map<string, string>()
  let resolveTrailers: (t: Map<string, string>) => void = () => {}
  let rejectTrailers: (e: unknown) => void = () => {}
  const trailersPromise = new Promise<Map<string, string>>((resolve, reject) => {
    resolveTrailers = resolve
    rejectTrailers = reject
  })
  trailersPromise.catch(() => {})

  async function verifyChunk(data: Uint8Array): Promise<void> {
    const toSign = [
      'AWS4-HMAC-SHA256-PAYLOAD',
      verified.amzDate,
      scope,
      previous,
      EMPTY_SHA256,
      await sha256HexOf(data),
    ].join('\n')
    const expected = toHex(await hmac(verified.key, toSign))
    if (expected !== chunkSignature)
      throw new SigV4Error('SignatureDoesNotMatch', 'A chunk signature does not match.')
    previous = expected
  }

  async function step(controller: TransformStreamDefaultController<Uint8Array>): Promise<boolean> {
    if (state === 'header') {
      const end = indexOfCrlf(buffer, 0)
      if (end < 0) {
        if (buffer.length > 4096) throw new SigV4Error('InvalidChunk', 'A chunk header is too long.')
        return false
      }
      const line = new TextDecoder().decode(buffer.subarray(0, end))
      buffer = buffer.subarray(end + 2)
      const match = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/.exec(line)
      if (!match?.[1] || (signed && !match[2]))
        throw new SigV4Error('InvalidChunk', `Malformed chunk header "${line.slice(0, 80)}".`)
      remaining = Number.parseInt(match[1], 16)
      chunkSignature = match[2] ?? ''
      if (signed && remaining > MAX_SIGNED_CHUNK)
        throw new SigV4Error('InvalidChunk', 'A signed chunk is over 16 MiB.')
      if (remaining === 0) {
        if (signed) await verifyChunk(new Uint8Array(0))
        state = 'trailer'
      } else state = 'data'
      return true
    }
    if (state === 'data') {
      if (buffer.length === 0) return false
      const take = buffer.subarray(0, Math.min(remaining, buffer.length))
      buffer = buffer.subarray(take.length)
      remaining -= take.length
      decoded += take.length
      if (signed) pending.push(take.slice())
      else controller.enqueue(take.slice())
      if (remaining === 0) {
        if (signed) {
          const data =
            pending.length === 1 ? (pending[0] as Uint8Array) : pending.reduce(concatBytes, new Uint8Array(0))
          pending = []
          await verifyChunk(data)
          controller.enqueue(data)
        }
        state = 'data-end'
      }
      return true
    }
    if (state === 'data-end') {
      if (buffer.length < 2) return false
      if (buffer[0] !== CRLF[0] || buffer[1] !== CRLF[1])
        throw new SigV4Error('InvalidChunk', 'A chunk does not end with CRLF.')
      buffer = buffer.subarray(2)
      state = 'header'
      return true
    }
    if (state === 'trailer') {
      const end = indexOfCrlf(buffer, 0)
      if (end < 0) {
        if (buffer.length > 8192) throw new SigV4Error('InvalidChunk', 'The trailer is too long.')
        return false
      }
      const line = new TextDecoder().decode(buffer.subarray(0, end))
      buffer = buffer.subarray(end + 2)
      if (line === '') {
        state = 'done'
        return true
      }
      const at = line.indexOf(':')
      if (at <= 0) throw new SigV4Error('InvalidChunk', 'A trailer line is not "name:value".')
      trailers.set(line.slice(0, at).trim().toLowerCase(), line.slice(at + 1).trim())
      return true
    }
    return false
  }

  async function verifyTrailerSignature(): Promise<void> {
    const given = trailers.get('x-amz-trailer-signature')
    if (!given) throw new SigV4Error('SignatureDoesNotMatch', 'The trailer has no x-amz-trailer-signature.')
    let lines = ''
    for (const [name, value] of trailers)
      if (name !== 'x-amz-trailer-signature') lines += `${name}:${value}\n`
    const toSign = [
      'AWS4-HMAC-SHA256-TRAILER',
      verified.amzDate,
      scope,
      previous,
      await sha256HexOf(lines),
    ].join('\n')
    if (toHex(await hmac(verified.key, toSign)) !== given) {
      throw new SigV4Error('SignatureDoesNotMatch', 'The trailer signature does not match.')
    }
  }

  const transform = new TransformStream<Uint8Array, Uint8Array>({
    async transform(chunk, controller) {
      if (state === 'done') return
      buffer = concatBytes(buffer, chunk)
      try {
        while ((state as string) !== 'done' && (await step(controller))) {}
      } catch (error) {
        rejectTrailers(error)
        throw error
      }
    },
    async flush() {
      try {
        // A body may end right after the zero chunk's CRLF with no trailer section.
        if (state === 'trailer' && buffer.length === 0) state = 'done'
        if (state !== 'done') throw new SigV4Error('IncompleteBody', 'The aws-chunked body ended early.')
        if (options.decodedLength !== undefined && decoded !== options.decodedLength) {
          throw new SigV4Error('IncompleteBody', 'The body does not have x-amz-decoded-content-length bytes.')
        }
        if (signed && trailers.size > 0) await verifyTrailerSignature()
        trailers.delete('x-amz-trailer-signature')
        resolveTrailers(trailers)
      } catch (error) {
        rejectTrailers(error)
        throw error
      }
    },
  })
  const body = input.pipeThrough(transform)
  return { body, trailers: trailersPromise }
}

/**
 * Ingesting a request body into object storage while hashing it once: SHA-256 (the content
 * address), MD5 (the ETag), and the one `x-amz-checksum-*` algorithm the client asked for.
 *
 * Guarantees: bytes stream to storage without being held in memory (bodies over 1 MiB pass
 * through a fixed-length stream, so storage learns the length up front and a body of any other
 * length fails); the digests cover exactly the bytes stored; an aws-chunked body is decoded
 * and its chunk and trailer signatures verified as it streams (chunked.ts). Every mismatch
 * (Content-MD5, x-amz-checksum-*, the signed payload SHA-256) deletes what was stored and
 * throws the S3 error (BadDigest, InvalidDigest, XAmzContentSHA256Mismatch).
 * Costs: native MD5/SHA digests; CRCs in JavaScript, only when asked for.
 */

import { base64ToBytes, bytesToBase64 } from '../platform/encoding'
import type { ObjectBucket } from '../platform/ports'
import { decodeAwsChunked } from '../platform/sigv4/chunked'
import type { KeyPrincipal } from '../platform/sigv4/keys'
import { toHex } from '../platform/sigv4/signing'
import type { Verified } from '../platform/sigv4/verify'
import { algorithmOfHeader, type ChecksumAlgorithm, checksumHeader, crcFor } from './checksums'
import { S3Error } from './s3-errors'

export const MAX_OBJECT_BYTES = 5 * 1024 ** 3
const BUFFERED_BYTES = 1024 * 1024

export interface Ingested {
  /** SHA-256 of the bytes, hex: the blob's content address. */
  hash: string
  md5: string
  size: number
  storageKey: string
  /** The checksum the client asked for, base64, validated. */
  checksum?: { algorithm: ChecksumAlgorithm; value: string }
}

export interface BodySource {
  body: ReadableStream<Uint8Array> | null
  length: number
  /** Resolves with the aws-chunked trailers once the body is read (empty otherwise). */
  trailers: Promise<Map<string, string>>
  algorithm: ChecksumAlgorithm | undefined
  headers: Headers
}

/** The decoded body of a signed request, its length and the checksum algorithm it declares. */
export function bodySource(
  request: Request,
  verified: Verified<KeyPrincipal> | undefined,
  maxBytes = MAX_OBJECT_BYTES,
): BodySource {
  const headers = request.headers
  const declaredTrailer = headers.get('x-amz-trailer') ?? undefined
  let algorithm = declaredTrailer ? algorithmOfHeader(declaredTrailer) : undefined
  for (const [name] of headers) algorithm ??= algorithmOfHeader(name)
  const sdkAlgorithm = headers.get('x-amz-sdk-checksum-algorithm')
  if (!algorithm && sdkAlgorithm)
    algorithm = algorithmOfHeader(`x-amz-checksum-${sdkAlgorithm.toLowerCase()}`)
  const streaming = verified?.payload.kind === 'streaming' ? verified.payload : undefined
  const lengthText = streaming ? headers.get('x-amz-decoded-content-length') : headers.get('content-length')
  if (lengthText === null || !/^\d{1,16}$/.test(lengthText)) {
    if (request.body === null)
      return { body: null, length: 0, trailers: Promise.resolve(new Map()), algorithm, headers }
    throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.')
  }
  const length = Number(lengthText)
  if (length > maxBytes) {
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(length),
      MaxSizeAllowed: String(maxBytes),
    })
  }
  if (streaming && request.body && verified) {
    const decoded = decodeAwsChunked(request.body, {
      verified,
      signed: streaming.signed,
      decodedLength: length,
    })
    return { body: decoded.body, length, trailers: decoded.trailers, algorithm, headers }
  }
  return { body: request.body, length, trailers: Promise.resolve(new Map()), algorithm, headers }
}

async function readAll(body: ReadableStream<Uint8Array> | null, length: number): Promise<Uint8Array> {
  const bytes = new Uint8Array(await new Response(body).arrayBuffer())
  if (bytes.length !== length)
    throw new S3Error(
      'IncompleteBody',
      'You did not provide the number of bytes specified by the Content-Length HTTP header.',
    )
  return bytes
}

/** Streams the body into storage at `storageKey`, hashing it; nothing is stored on failure. */
export async function ingest(store: ObjectBucket, storageKey: string, source: BodySource): Promise<Ingested> {
  const { length, algorithm } = source
  const crc = algorithm ? crcFor(algorithm) : undefined
  let hash: string
  let md5: string
  let wanted: Uint8Array | undefined
  if (length <= BUFFERED_BYTES) {
    const bytes = await readAll(source.body, length)
    const [sha, md] = await Promise.all([
      crypto.subtle.digest('SHA-256', bytes as BufferSource),
      crypto.subtle.digest('MD5', bytes as BufferSource),
    ])
    if (crc) {
      crc.update(bytes)
      wanted = crc.digest()
    } else if (algorithm === 'SHA256') wanted = new Uint8Array(sha)
    else if (algorithm === 'SHA1')
      wanted = new Uint8Array(await crypto.subtle.digest('SHA-1', bytes as BufferSource))
    // Small bodies are checked before anything is stored.
    const result = {
      hash: toHex(sha),
      md5: toHex(md),
      size: length,
      storageKey,
      ...(await checked(source, wanted)),
    }
    if (length > 0) await store.put(storageKey, bytes)
    return result
  } else {
    const sha = new crypto.DigestStream('SHA-256')
    const md = new crypto.DigestStream('MD5')
    const sha1 = algorithm === 'SHA1' ? new crypto.DigestStream('SHA-1') : undefined
    const writers = [sha, md, ...(sha1 ? [sha1] : [])].map((stream) => stream.getWriter())
    const fixed = new FixedLengthStream(length)
    const tap = new TransformStream<Uint8Array, Uint8Array>({
      async transform(chunk, controller) {
        crc?.update(chunk)
        await Promise.all(writers.map((writer) => writer.write(chunk)))
        controller.enqueue(chunk)
      },
      async flush() {
        await Promise.all(writers.map((writer) => writer.close()))
      },
    })
    const stored = store.put(storageKey, fixed.readable)
    try {
      await (source.body as ReadableStream<Uint8Array>).pipeThrough(tap).pipeTo(fixed.writable)
      await stored
    } catch (error) {
      await stored.catch(() => undefined)
      await store.delete(storageKey)
      if (error instanceof S3Error || (error instanceof Error && error.name === 'SigV4Error')) throw error
      throw new S3Error(
        'IncompleteBody',
        'You did not provide the number of bytes specified by the Content-Length HTTP header.',
      )
    }
    hash = toHex(await sha.digest)
    md5 = toHex(await md.digest)
    wanted = crc
      ? crc.digest()
      : algorithm === 'SHA256'
        ? new Uint8Array(await sha.digest)
        : sha1
          ? new Uint8Array(await sha1.digest)
          : undefined
  }
  try {
    return { hash, md5, size: length, storageKey, ...(await checked(source, wanted)) }
  } catch (error) {
    await store.delete(storageKey)
    throw error
  }
}

/** The validated checksum of the body, from its header or its aws-chunked trailer. */
async function checked(
  source: BodySource,
  computed: Uint8Array | undefined,
): Promise<Pick<Ingested, 'checksum'>> {
  const { algorithm } = source
  if (!algorithm || !computed) return {}
  const trailers = await source.trailers
  const given = trailers.get(checksumHeader(algorithm)) ?? headerValue(source, algorithm)
  const value = bytesToBase64(computed)
  if (given !== undefined && given !== value) {
    throw new S3Error('BadDigest', `The ${algorithm} you specified did not match the calculated checksum.`)
  }
  return { checksum: { algorithm, value } }
}

function headerValue(source: BodySource, algorithm: ChecksumAlgorithm): string | undefined {
  return source.headers.get(checksumHeader(algorithm)) ?? undefined
}

/** Checks Content-MD5 and a signed hex payload hash against what was ingested. */
export function checkDigests(headers: Headers, ingested: Ingested, signedSha256: string | undefined): void {
  const contentMd5 = headers.get('content-md5')
  if (contentMd5 !== null) {
    const bytes = base64ToBytes(contentMd5)
    if (bytes?.length !== 16) throw new S3Error('InvalidDigest', 'The Content-MD5 you specified was invalid.')
    if (toHex(bytes) !== ingested.md5)
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what was received.')
  }
  if (signedSha256 !== undefined && signedSha256 !== ingested.hash) {
    throw new S3Error(
      'XAmzContentSHA256Mismatch',
      "The provided 'x-amz-content-sha256' header does not match what was computed.",
      {
        ClientComputedContentSHA256: signedSha256,
        S3ComputedContentSHA256: ingested.hash,
      },
    )
  }
}

/**
 * Reading an object's bytes: the range [start, start + length) across its segments (one
 * for a simple upload, one per part for a multipart one), as one stream that asks storage
 * for each overlapping segment only when the previous one has been read (memory stays flat).
 */
import type { ObjectBucket } from '../platform/ports'
import type { ReadableVersion } from './object'
import { S3Error } from './s3-errors'

export async function readSegments(
  store: ObjectBucket,
  version: ReadableVersion,
  start: number,
  length: number,
): Promise<ReadableStream<Uint8Array>> {
  const pieces: { storageKey: string; offset: number; length: number }[] = []
  let at = 0
  const end = start + length
  version.segments.forEach((segment, i) => {
    const from = Math.max(start, at)
    const to = Math.min(end, at + segment.size)
    if (to > from)
      pieces.push({ storageKey: version.storageKeys[i] as string, offset: from - at, length: to - from })
    at += segment.size
  })
  const open = async (piece: (typeof pieces)[number]): Promise<ReadableStream<Uint8Array>> => {
    const object = await store.get(piece.storageKey, {
      range: { offset: piece.offset, length: piece.length },
    })
    if (!object) throw new S3Error('InternalError', "The object's bytes are missing from storage.")
    return object.body as ReadableStream<Uint8Array>
  }
  if (pieces.length === 1) return open(pieces[0] as (typeof pieces)[number])
  const { readable, writable } = new TransformStream<Uint8Array, Uint8Array>()
  const pump = async () => {
    for (const piece of pieces) await (await open(piece)).pipeTo(writable, { preventClose: true })
    await writable.close()
  }
  pump().catch((error: unknown) => writable.abort(error).catch(() => undefined))
  return readable
}

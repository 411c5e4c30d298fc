/**
 * Reading a stored variant's bytes for a client: a byte range of a whole body (one bucket
 * read), or of a sliced one (slices.ts) slice after slice, each read from the bucket when the
 * previous one is done and fetched through the key's object when it is not stored yet.
 *
 * Guarantees: the first needed slice is in the bucket before the stream is returned, so a
 * version change or origin failure found there is an error the caller can still answer
 * (refill, 502) instead of a cut response; memory holds one chunk at a time (pull-driven,
 * no read-ahead); a later slice of another version errors the stream, never mixes bytes.
 */
import type { ObjectBucket } from '../platform/ports'
import type { ByteRange } from './ranges'
import { sliceBounds, sliceKey, slicesOverlapping } from './slices'
import type { SliceResult, Variant } from './variant'

/** A slice could not be had: the origin has another version now, or failed. */
export class SliceUnavailable extends Error {
  constructor(readonly reason: Exclude<SliceResult, 'stored'>) {
    super(
      reason === 'changed'
        ? 'The object changed at the origin while it was being delivered.'
        : 'The origin failed to deliver a slice of the object.',
    )
    this.name = 'SliceUnavailable'
  }
}

export type SliceFetcher = (index: number) => Promise<SliceResult>

/** Bytes `range` (inclusive) of the variant's body, or null when a whole body is missing. */
export async function readVariant(
  bucket: ObjectBucket,
  variant: Variant,
  range: ByteRange,
  fetchSlice: SliceFetcher,
): Promise<ReadableStream<Uint8Array> | null> {
  const length = range.end - range.start + 1
  if (!variant.slice) {
    const object = await bucket.get(variant.bodyKey, { range: { offset: range.start, length } })
    return object?.body ?? null
  }
  const slice = variant.slice
  const indices = slicesOverlapping(range, slice)
  const open = async (position: number) => {
    const index = indices[position] as number
    const bounds = sliceBounds(index, slice, variant.size)
    const from = Math.max(range.start, bounds.start)
    const to = Math.min(range.end, bounds.end)
    const read = () =>
      bucket.get(sliceKey(variant.bodyKey, index), {
        range: { offset: from - bounds.start, length: to - from + 1 },
      })
    let object = await read()
    if (!object) {
      const result = await fetchSlice(index)
      if (result !== 'stored') throw new SliceUnavailable(result)
      object = await read()
      if (!object) throw new SliceUnavailable('changed')
    }
    return object.body.getReader()
  }
  let reader = await open(0)
  let position = 0
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          for (;;) {
            const chunk = await reader.read()
            if (!chunk.done) return controller.enqueue(chunk.value)
            position++
            if (position >= indices.length) return controller.close()
            reader = await open(position)
          }
        } catch (error) {
          controller.error(error)
        }
      },
      cancel(reason) {
        return reader.cancel(reason)
      },
    },
    { highWaterMark: 0 },
  )
}

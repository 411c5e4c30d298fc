/**
 * Content-addressed storage with reference counts under random interleavings: uploads (bytes
 * written first, committed later), overwrites, deletes, multipart parts, and garbage
 * collection passes at any point and any clock. The invariant, checked after every step:
 * every blob a live object or part points at is still in storage.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { adopt, type BlobIndex, type BlobRow, collect, release } from '../../workers/blob/cas'

function memoryIndex(): BlobIndex & { rows: Map<string, BlobRow> } {
  const rows = new Map<string, BlobRow>()
  return {
    rows,
    get: (hash) => rows.get(hash),
    put: (row) => void rows.set(row.hash, { ...row }),
    remove: (hash) => void rows.delete(hash),
    unreferenced: (cutoff, limit) =>
      [...rows.values()]
        .filter((r) => r.refs === 0 && r.zeroSince !== null && r.zeroSince <= cutoff)
        .slice(0, limit),
  }
}

type Step =
  | { kind: 'upload'; client: number; content: number }
  | { kind: 'commit'; client: number; key: number }
  | { kind: 'delete'; key: number }
  | { kind: 'gc'; advanceMs: number }

const GRACE = 1000

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('upload' as const), client: fc.nat(3), content: fc.nat(3) }),
  fc.record({ kind: fc.constant('commit' as const), client: fc.nat(3), key: fc.nat(4) }),
  fc.record({ kind: fc.constant('delete' as const), key: fc.nat(4) }),
  fc.record({ kind: fc.constant('gc' as const), advanceMs: fc.constantFrom(0, 500, 1000, 5000) }),
)

describe('content-addressed blobs with reference counts', () => {
  it('never deletes a blob that a live object points at, whatever the interleaving', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 120 }), (steps) => {
        const index = memoryIndex()
        const storage = new Set<string>()
        /** key → content hash of the live object. */
        const objects = new Map<number, string>()
        /** client → an upload whose bytes are in storage, not yet committed. */
        const pending = new Map<number, { hash: string; storageKey: string }>()
        let now = 0
        let uploads = 0
        for (const s of steps) {
          if (s.kind === 'upload') {
            const storageKey = `k${uploads++}`
            storage.add(storageKey)
            const previous = pending.get(s.client)
            if (previous) storage.delete(previous.storageKey)
            pending.set(s.client, { hash: `h${s.content}`, storageKey })
          } else if (s.kind === 'commit') {
            const upload = pending.get(s.client)
            if (!upload) continue
            pending.delete(s.client)
            // One transaction: adopt the new bytes, release what the key pointed at before.
            const adopted = adopt(index, upload.hash, 10, upload.storageKey)
            const before = objects.get(s.key)
            if (before) release(index, before, now)
            objects.set(s.key, upload.hash)
            if (adopted.redundant) storage.delete(adopted.redundant)
          } else if (s.kind === 'delete') {
            const before = objects.get(s.key)
            if (before) release(index, before, now)
            objects.delete(s.key)
          } else {
            now += s.advanceMs
            for (const key of collect(index, now, GRACE)) storage.delete(key)
          }
          for (const hash of objects.values()) {
            const row = index.get(hash)
            expect(row, `blob ${hash} has an index row`).toBeDefined()
            expect(storage.has(row?.storageKey ?? ''), `blob ${hash} is still stored`).toBe(true)
            expect(row?.refs).toBe([...objects.values()].filter((h) => h === hash).length)
          }
        }
      }),
      { numRuns: 300, seed: 19 },
    )
  })

  it('stores identical bytes once and collects them only after the grace period', () => {
    const index = memoryIndex()
    expect(adopt(index, 'h', 5, 'first')).toEqual({ storageKey: 'first' })
    expect(adopt(index, 'h', 5, 'second')).toEqual({ storageKey: 'first', redundant: 'second' })
    release(index, 'h', 100)
    release(index, 'h', 200)
    expect(collect(index, 200 + GRACE - 1, GRACE)).toEqual([])
    // A new reference during the grace period keeps the blob.
    expect(adopt(index, 'h', 5, 'third')).toEqual({ storageKey: 'first', redundant: 'third' })
    expect(collect(index, 10_000, GRACE)).toEqual([])
    release(index, 'h', 300)
    expect(collect(index, 300 + GRACE, GRACE)).toEqual(['first'])
    // Collected: the next upload of the same bytes keeps its own copy.
    expect(adopt(index, 'h', 5, 'fourth')).toEqual({ storageKey: 'fourth' })
  })
})

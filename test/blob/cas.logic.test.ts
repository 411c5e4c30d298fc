/**
 * The tenant's content-addressed store shared by its buckets, under random interleavings of
 * everything that touches it: uploads (bytes written first, held later, committed later
 * still), copies from one bucket to another (the source read first, the hold taken later),
 * commits that fail or never happen (crashes, intents falling due), overwrites, deletes,
 * whole buckets emptied and deleted, releases delivered late or twice, and garbage
 * collection passes at any point and any clock. The invariant, checked after every step:
 * every blob a live object points at, in any bucket, is held by that object and still in
 * storage; once every release is delivered, each blob's count is exactly its live holders.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { BlobGone, type BlobIndex, type BlobRow, collect, hold, unhold } from '../../workers/blob/cas'

function memoryIndex(): BlobIndex & { rows: Map<string, BlobRow>; holds: Set<string> } {
  const rows = new Map<string, BlobRow>()
  const holds = new Set<string>()
  return {
    rows,
    holds,
    get: (hash) => rows.get(hash),
    put: (row) => void rows.set(row.hash, { ...row }),
    remove: (hash) => void rows.delete(hash),
    addHold: (holder, hash) => {
      const had = holds.has(`${holder} ${hash}`)
      holds.add(`${holder} ${hash}`)
      return !had
    },
    removeHolds: (holder) => {
      const hashes = [...holds]
        .filter((h) => h.startsWith(`${holder} `))
        .map((h) => h.split(' ')[1] as string)
      for (const hash of hashes) holds.delete(`${holder} ${hash}`)
      return hashes
    },
    unreferenced: (cutoff, limit) =>
      [...rows.values()]
        .filter((r) => r.refs === 0 && r.zeroSince !== null && r.zeroSince <= cutoff)
        .slice(0, limit),
  }
}

type Step =
  | { kind: 'upload'; client: number; content: number; bucket: number }
  | { kind: 'readSource'; client: number; bucket: number; key: number; into: number }
  | { kind: 'hold'; client: number }
  | { kind: 'commit'; client: number; key: number }
  | { kind: 'fail'; client: number }
  | { kind: 'crash'; client: number }
  | { kind: 'delete'; bucket: number; key: number }
  | { kind: 'dropBucket'; bucket: number }
  | { kind: 'drain'; bucket: number; duplicate: boolean }
  | { kind: 'gc'; advanceMs: number }

const GRACE = 1000
const INTENT_TTL = 3000
const BUCKETS = 3

const client = fc.nat(3)
const bucket = fc.nat(BUCKETS - 1)
const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('upload' as const), client, content: fc.nat(3), bucket }),
  fc.record({ kind: fc.constant('readSource' as const), client, bucket, key: fc.nat(3), into: bucket }),
  fc.record({ kind: fc.constant('hold' as const), client }),
  fc.record({ kind: fc.constant('commit' as const), client, key: fc.nat(3) }),
  fc.record({ kind: fc.constant('fail' as const), client }),
  fc.record({ kind: fc.constant('crash' as const), client }),
  fc.record({ kind: fc.constant('delete' as const), bucket, key: fc.nat(3) }),
  fc.record({ kind: fc.constant('dropBucket' as const), bucket }),
  fc.record({ kind: fc.constant('drain' as const), bucket, duplicate: fc.boolean() }),
  fc.record({ kind: fc.constant('gc' as const), advanceMs: fc.constantFrom(0, 500, 1000, 5000) }),
)

/** A request in flight: bytes uploaded (or a copy's source read), maybe held, not committed. */
interface Pending {
  bucket: number
  hash: string
  uploadedKey?: string
  holder?: string
}

interface Live {
  hash: string
  holder: string
}

describe('a content store shared by a tenant’s buckets', () => {
  it('never deletes a blob that a live object of any bucket points at, whatever the interleaving', () => {
    fc.assert(
      fc.property(fc.array(step, { minLength: 1, maxLength: 150 }), (steps) => {
        const index = memoryIndex()
        const storage = new Set<string>()
        /** bucket → key → the live object. */
        const objects = Array.from({ length: BUCKETS }, () => new Map<number, Live>())
        /** bucket → its releases table: holder → due (intents are due INTENT_TTL after the hold). */
        const releases = Array.from({ length: BUCKETS }, () => new Map<string, number>())
        const pending = new Map<number, Pending>()
        let now = 0
        let ids = 0
        const release = (b: number, holder: string) =>
          releases[b]?.set(holder, Math.min(now, releases[b]?.get(holder) ?? now))
        for (const s of steps) {
          if (s.kind === 'upload') {
            const uploadedKey = `k${ids++}`
            storage.add(uploadedKey)
            pending.set(s.client, { bucket: s.bucket, hash: `h${s.content}`, uploadedKey })
          } else if (s.kind === 'readSource') {
            const source = objects[s.bucket]?.get(s.key)
            if (source) pending.set(s.client, { bucket: s.into, hash: source.hash })
          } else if (s.kind === 'hold') {
            const p = pending.get(s.client)
            if (!p || p.holder) continue
            const holder = `b${p.bucket}/${ids++}`
            releases[p.bucket]?.set(holder, now + INTENT_TTL)
            try {
              const held = hold(index, holder, [{ hash: p.hash, size: 10, uploadedKey: p.uploadedKey }])
              for (const key of held.redundant) storage.delete(key)
              p.holder = holder
            } catch (error) {
              expect(error).toBeInstanceOf(BlobGone)
              expect(p.uploadedKey).toBeUndefined()
              release(p.bucket, holder)
              pending.delete(s.client)
            }
          } else if (s.kind === 'commit') {
            const p = pending.get(s.client)
            if (!p?.holder) continue
            pending.delete(s.client)
            const intents = releases[p.bucket] as Map<string, number>
            // The commit deletes its intent, or fails when the intent already fell due.
            if (!((intents.get(p.holder) ?? -1) > now)) continue
            intents.delete(p.holder)
            const before = objects[p.bucket]?.get(s.key)
            if (before) release(p.bucket, before.holder)
            objects[p.bucket]?.set(s.key, { hash: p.hash, holder: p.holder })
          } else if (s.kind === 'fail') {
            const p = pending.get(s.client)
            if (!p) continue
            pending.delete(s.client)
            if (p.holder) release(p.bucket, p.holder)
            else if (p.uploadedKey) storage.delete(p.uploadedKey)
          } else if (s.kind === 'crash') {
            pending.delete(s.client)
          } else if (s.kind === 'delete') {
            const before = objects[s.bucket]?.get(s.key)
            if (before) release(s.bucket, before.holder)
            objects[s.bucket]?.delete(s.key)
          } else if (s.kind === 'dropBucket') {
            for (const live of objects[s.bucket]?.values() ?? []) release(s.bucket, live.holder)
            objects[s.bucket]?.clear()
          } else if (s.kind === 'drain') {
            const table = releases[s.bucket] as Map<string, number>
            for (const [holder, due] of [...table]) {
              if (due > now) continue
              unhold(index, holder, now)
              if (s.duplicate) unhold(index, holder, now)
              table.delete(holder)
            }
          } else {
            now += s.advanceMs
            for (const key of collect(index, now, GRACE)) storage.delete(key)
          }
          for (const bucketObjects of objects) {
            for (const live of bucketObjects.values()) {
              const row = index.get(live.hash)
              expect(row, `blob ${live.hash} has an index row`).toBeDefined()
              expect(storage.has(row?.storageKey ?? ''), `blob ${live.hash} is still stored`).toBe(true)
              expect(index.holds.has(`${live.holder} ${live.hash}`)).toBe(true)
            }
          }
        }
        // Deliver every release (intents fall due), then the counts are exact.
        now += INTENT_TTL + 1
        for (const table of releases) for (const holder of table.keys()) unhold(index, holder, now)
        for (const row of index.rows.values()) {
          const holders = objects.flatMap((o) => [...o.values()]).filter((live) => live.hash === row.hash)
          expect(row.refs).toBe(holders.length)
        }
      }),
      { numRuns: 400, seed: 19 },
    )
  })

  it('stores identical bytes once, holds idempotently, and collects only after the grace period', () => {
    const index = memoryIndex()
    expect(hold(index, 'a/1', [{ hash: 'h', size: 5, uploadedKey: 'first' }])).toEqual({
      storageKeys: ['first'],
      redundant: [],
    })
    expect(hold(index, 'b/1', [{ hash: 'h', size: 5, uploadedKey: 'second' }])).toEqual({
      storageKeys: ['first'],
      redundant: ['second'],
    })
    // A copy holds without bytes of its own; holding twice counts once.
    hold(index, 'c/1', [{ hash: 'h', size: 5 }])
    hold(index, 'c/1', [{ hash: 'h', size: 5 }])
    expect(index.get('h')?.refs).toBe(3)
    unhold(index, 'a/1', 100)
    unhold(index, 'a/1', 100)
    unhold(index, 'b/1', 150)
    expect(index.get('h')?.refs).toBe(1)
    unhold(index, 'c/1', 200)
    expect(collect(index, 200 + GRACE - 1, GRACE)).toEqual([])
    // A new reference during the grace period keeps the blob.
    expect(hold(index, 'd/1', [{ hash: 'h', size: 5 }]).storageKeys).toEqual(['first'])
    expect(collect(index, 10_000, GRACE)).toEqual([])
    unhold(index, 'd/1', 300)
    expect(collect(index, 300 + GRACE, GRACE)).toEqual(['first'])
    // Collected: a copy can no longer hold it; the next upload of the same bytes keeps its own copy.
    expect(() => hold(index, 'e/1', [{ hash: 'h', size: 5 }])).toThrow(BlobGone)
    expect(hold(index, 'f/1', [{ hash: 'h', size: 5, uploadedKey: 'fourth' }]).storageKeys).toEqual([
      'fourth',
    ])
  })
})

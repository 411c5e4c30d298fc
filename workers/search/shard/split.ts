/**
 * Online shard growth, one shard's part. An index grows from n to 2n shards: shard i keeps
 * the documents whose `hash32(id) mod 2n` is i and hands the others to shard i + n.
 *
 * Each shard records its layout (the shard count it was placed with, and whether it is
 * live or a shadow being filled). A write routed with a smaller count than the layout is
 * refused with the layout, so the writer re-routes it; readers that meet a larger layout
 * also ask the new shard.
 *
 * Source side, while splitting: writes keep landing here. Each `step` ships to the target
 * the ids of moving documents deleted since the last step (logged with a sequence number),
 * then the moving documents stored after a cursor (rids only grow: a rewritten document
 * gets a new rid and is shipped again), in that order. The last step runs alone
 * (`exclusive`, no request interleaves): it ships the rest, makes the target live, deletes
 * the moved documents here and records the new layout. So at every instant each document
 * is served by exactly one live shard, and each shard's statistics cover only its own.
 *
 * Target side: a shadow, reset when the split starts, never read until the final step.
 *
 * Cost: every document of the source is read once, every moving one written once more
 * (again if rewritten during the move); batches are bounded in documents and bytes.
 */
import { shardFor } from '../../platform/hashing'
import type { Document } from '../logic/fields'
import type { ShardStore } from './store'

const SCAN_ROWS = 1000
const BATCH_DOCUMENTS = 500
const BATCH_BYTES = 4 * 1024 * 1024

export interface SplitArgs {
  /** This shard's number. */
  shard: number
  from: number
  to: number
}

export interface SplitBatch {
  to: number
  deletes: string[]
  documents: Array<{ id: string; body: Document }>
  final: boolean
}

export interface SplitHost {
  transaction<T>(body: () => T): T
  /** Runs `body` with no other request to this object in between. */
  exclusive<T>(body: () => Promise<T>): Promise<T>
  resetTarget(): Promise<void>
  ship(batch: SplitBatch): Promise<void>
}

type Layout = { count: number | null; role: 'live' | 'shadow' }
type Split = { shard: number; to: number; cursor: number }

export class ShardLayout {
  private cached: Layout | undefined
  private queue: Promise<unknown> = Promise.resolve()

  constructor(
    private readonly sql: SqlStorage,
    private readonly store: ShardStore,
  ) {}

  migrate(): void {
    this.cached = undefined
    this.sql.exec(`CREATE TABLE IF NOT EXISTS layout (
      one INTEGER PRIMARY KEY CHECK (one = 1), count INTEGER, role TEXT NOT NULL)`)
    this.sql.exec(`CREATE TABLE IF NOT EXISTS split (
      one INTEGER PRIMARY KEY CHECK (one = 1), shard INTEGER NOT NULL, target INTEGER NOT NULL,
      cursor INTEGER NOT NULL)`)
    this.sql.exec(
      'CREATE TABLE IF NOT EXISTS split_deletes (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL)',
    )
  }

  /** Drops the cached layout (after a failed transaction). */
  forget(): void {
    this.cached = undefined
  }

  current(): Layout {
    if (!this.cached) {
      const row = this.sql
        .exec<{ count: number | null; role: Layout['role'] }>('SELECT count, role FROM layout')
        .toArray()[0]
      this.cached = row ? { count: row.count, role: row.role } : { count: null, role: 'live' }
    }
    return this.cached
  }

  private set(count: number, role: Layout['role']): void {
    this.sql.exec(
      'INSERT INTO layout (one, count, role) VALUES (1, ?, ?) ON CONFLICT (one) DO UPDATE SET count = excluded.count, role = excluded.role',
      count,
      role,
    )
    this.cached = { count, role }
  }

  /** null when a write routed with `count` shards belongs here; else the count to route with. */
  route(count: number): number | null {
    const own = this.current().count
    if (own === null) {
      this.set(count, 'live')
      return null
    }
    return count < own ? own : null
  }

  private split(): Split | undefined {
    return this.sql.exec<Split>('SELECT shard, target AS "to", cursor FROM split').toArray()[0]
  }

  /** Records explicit deletions, so a moving document's deletion reaches the target. */
  deleted(ids: Iterable<string>): void {
    const split = this.split()
    if (!split) return
    for (const id of ids)
      if (shardFor(id, split.to) !== split.shard)
        this.sql.exec('INSERT INTO split_deletes (id) VALUES (?)', id)
  }

  /** One step of moving this shard's share to its new sibling; steps never overlap. */
  step(args: SplitArgs, host: SplitHost): Promise<{ sealed: boolean; moved: number }> {
    const next = this.queue.then(() => this.runStep(args, host))
    this.queue = next.catch(() => undefined)
    return next
  }

  private moving(split: Split, limit: number) {
    const rows = this.store.after(split.cursor, limit)
    const documents = rows.filter((row) => shardFor(row.id, split.to) !== split.shard)
    return { documents, last: rows.at(-1)?.rid ?? split.cursor, complete: rows.length < limit }
  }

  private pendingDeletes(): { ids: string[]; upTo: number } {
    const rows = this.sql
      .exec<{ seq: number; id: string }>('SELECT seq, id FROM split_deletes ORDER BY seq')
      .toArray()
    return { ids: rows.map((row) => row.id), upTo: rows.at(-1)?.seq ?? 0 }
  }

  /** Ships deletions first, then documents, in batches bounded by count and bytes. */
  private async ship(
    host: SplitHost,
    to: number,
    deletes: string[],
    documents: Array<{ id: string; body: Document }>,
  ) {
    let batch: SplitBatch = { to, deletes, documents: [], final: false }
    let bytes = 0
    for (const { id, body } of documents) {
      const size = JSON.stringify(body).length
      if (
        batch.documents.length >= BATCH_DOCUMENTS ||
        (bytes + size > BATCH_BYTES && batch.documents.length > 0)
      ) {
        await host.ship(batch)
        batch = { to, deletes: [], documents: [], final: false }
        bytes = 0
      }
      batch.documents.push({ id, body })
      bytes += size
    }
    if (batch.deletes.length > 0 || batch.documents.length > 0) await host.ship(batch)
  }

  private async runStep(args: SplitArgs, host: SplitHost): Promise<{ sealed: boolean; moved: number }> {
    const own = this.current().count
    if (own !== null && own >= args.to) return { sealed: true, moved: 0 }
    let split = this.split()
    if (!split || split.to !== args.to) {
      await host.resetTarget()
      host.transaction(() => {
        this.sql.exec('DELETE FROM split_deletes')
        this.sql.exec(
          'INSERT OR REPLACE INTO split (one, shard, target, cursor) VALUES (1, ?, ?, 0)',
          args.shard,
          args.to,
        )
        if (own === null) this.set(args.from, 'live')
      })
      split = { shard: args.shard, to: args.to, cursor: 0 }
    }
    const scan = this.moving(split, SCAN_ROWS)
    if (!scan.complete) {
      const deletes = this.pendingDeletes()
      await this.ship(host, split.to, deletes.ids, scan.documents)
      host.transaction(() => {
        this.sql.exec('UPDATE split SET cursor = ?', scan.last)
        this.sql.exec('DELETE FROM split_deletes WHERE seq <= ?', deletes.upTo)
      })
      return { sealed: false, moved: 0 }
    }
    const active = split
    return host.exclusive(async () => {
      let cursor = active.cursor
      let deletes = this.pendingDeletes().ids
      for (;;) {
        const rest = this.moving({ ...active, cursor }, SCAN_ROWS)
        await this.ship(host, active.to, deletes, rest.documents)
        deletes = []
        cursor = rest.last
        if (rest.complete) break
      }
      await host.ship({ to: active.to, deletes: [], documents: [], final: true })
      let moved = 0
      host.transaction(() => {
        const leaving = this.store.ids().filter(({ id }) => shardFor(id, active.to) !== active.shard)
        for (const document of [...this.store.documents(leaving.map((entry) => entry.rid))]) {
          this.store.remove(document)
          moved++
        }
        this.sql.exec('DELETE FROM split')
        this.sql.exec('DELETE FROM split_deletes')
        this.set(active.to, 'live')
      })
      return { sealed: true, moved }
    })
  }

  /** Target side: applies one shipped batch; the final one makes this shard live. */
  absorb(batch: SplitBatch, transaction: <T>(body: () => T) => T): void {
    transaction(() => {
      const layout = this.current()
      if (layout.count !== batch.to) this.set(batch.to, 'shadow')
      for (const id of batch.deletes) {
        const existing = this.store.find(id)
        if (existing) this.store.remove(existing)
      }
      this.store.putAll(batch.documents)
      if (batch.final) this.set(batch.to, 'live')
    })
  }
}

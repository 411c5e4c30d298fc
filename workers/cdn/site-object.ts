/**
 * `CdnSite`: one Durable Object per site, named `<tenant>:cdn-site:<site>`: the purge log and
 * the site's statistics.
 *
 * Purges are appended to a log with increasing sequence numbers; every stored response
 * remembers the sequence current when it was stored, and is checked against the purges
 * recorded after it before it is served (`effect`), at every tier. So a purge by URL,
 * prefix, tag, host or everything is in force for every later request once `purge` returns,
 * whatever the number of stored objects, at O(1) cost to purge. The log keeps its last
 * `MAX_PURGES`; a response stored before the oldest kept purge counts as hard-purged.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { type PurgeKind, type PurgeRecord, purgeEffect, type StoredIdentity } from './keys'

declare global {
  namespace Cloudflare {
    interface Env {
      CDN_SITES: DurableObjectNamespace<CdnSite>
    }
  }
}

const MAX_PURGES = 10_000
const TOP_KEYS = 10

export interface Observation {
  key: string
  hit: boolean
  bytes: number
  originRequest: boolean
  originError: boolean
}

export class CdnSite extends HostedObject<Env> {
  private readonly sql: SqlStorage
  private purges: PurgeRecord[] = []
  private floorSeq = 0

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.sql = ctx.storage.sql
    void ctx.blockConcurrencyWhile(async () => {
      this.sql.exec(
        'CREATE TABLE IF NOT EXISTS purges (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, value TEXT NOT NULL, soft INTEGER NOT NULL, at INTEGER NOT NULL)',
      )
      this.sql.exec('CREATE TABLE IF NOT EXISTS stats (name TEXT PRIMARY KEY, value INTEGER NOT NULL)')
      this.sql.exec('CREATE TABLE IF NOT EXISTS keys (key TEXT PRIMARY KEY, requests INTEGER NOT NULL)')
      this.purges = this.sql
        .exec<{ seq: number; kind: PurgeKind; value: string; soft: number }>(
          'SELECT seq, kind, value, soft FROM purges ORDER BY seq',
        )
        .toArray()
        .map((r) => ({ seq: r.seq, kind: r.kind, value: r.value, soft: r.soft === 1 }))
      this.floorSeq = Number(
        this.sql.exec<{ value: number }>("SELECT value FROM stats WHERE name = 'purge_floor'").toArray()[0]
          ?.value ?? 0,
      )
    })
  }

  /** The sequence a response stored now records. */
  sequence(): number {
    return this.purges.at(-1)?.seq ?? this.floorSeq
  }

  /** Records purges; returns the last sequence number. */
  purge(items: Array<{ kind: PurgeKind; value: string }>, soft: boolean, now = Date.now()): number {
    this.ctx.storage.transactionSync(() => {
      for (const item of items) {
        const seq = this.sql
          .exec<{ seq: number }>(
            'INSERT INTO purges (kind, value, soft, at) VALUES (?, ?, ?, ?) RETURNING seq',
            item.kind,
            item.value,
            soft ? 1 : 0,
            now,
          )
          .one().seq
        this.purges.push({ seq, kind: item.kind, value: item.value, soft })
      }
      if (this.purges.length > MAX_PURGES) {
        const dropped = this.purges.splice(0, this.purges.length - MAX_PURGES)
        this.floorSeq = dropped.at(-1)?.seq ?? this.floorSeq
        this.sql.exec('DELETE FROM purges WHERE seq <= ?', this.floorSeq)
        this.sql.exec(
          "INSERT INTO stats VALUES ('purge_floor', ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value",
          this.floorSeq,
        )
      }
    })
    return this.sequence()
  }

  /** What the purges recorded since `entry` was stored do to it. */
  effect(entry: StoredIdentity): 'none' | 'soft' | 'hard' {
    if (entry.seq < this.floorSeq) return 'hard'
    return purgeEffect(this.purges, entry)
  }

  observe(o: Observation): void {
    this.ctx.storage.transactionSync(() => {
      const add = (name: string, value: number) =>
        value &&
        this.sql.exec(
          'INSERT INTO stats VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = value + excluded.value',
          name,
          value,
        )
      add('requests', 1)
      add(o.hit ? 'hits' : 'misses', 1)
      add(o.hit ? 'bytes_cache' : 'bytes_origin', o.bytes)
      add('origin_requests', o.originRequest ? 1 : 0)
      add('origin_errors', o.originError ? 1 : 0)
      this.sql.exec(
        'INSERT INTO keys VALUES (?, 1) ON CONFLICT(key) DO UPDATE SET requests = requests + 1',
        o.key,
      )
    })
  }

  stats() {
    const s = new Map(
      this.sql
        .exec<{ name: string; value: number }>('SELECT name, value FROM stats')
        .toArray()
        .map((r) => [r.name, r.value]),
    )
    const requests = s.get('requests') ?? 0
    const hits = s.get('hits') ?? 0
    return {
      requests,
      hits,
      misses: s.get('misses') ?? 0,
      hitRatio: requests ? hits / requests : 0,
      bytesFromCache: s.get('bytes_cache') ?? 0,
      bytesFromOrigin: s.get('bytes_origin') ?? 0,
      originRequests: s.get('origin_requests') ?? 0,
      originErrors: s.get('origin_errors') ?? 0,
      topKeys: this.sql
        .exec<{ key: string; requests: number }>(
          'SELECT key, requests FROM keys ORDER BY requests DESC, key LIMIT ?',
          TOP_KEYS,
        )
        .toArray()
        .map((r) => ({ key: r.key, requests: r.requests })),
    }
  }

  /** The site was deleted: everything stored under it is hard-purged and its statistics cleared. */
  forget(): void {
    this.purge([{ kind: 'everything', value: '' }], false)
    this.ctx.storage.transactionSync(() => {
      this.sql.exec("DELETE FROM stats WHERE name != 'purge_floor'")
      this.sql.exec('DELETE FROM keys')
    })
  }
}

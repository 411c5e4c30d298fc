// Databases: one SQLite file per namespace under the data directory, and a small pool of connections each.
//
// Guarantees:
// - A namespace name is 1-63 characters of [a-z0-9_-] starting with a letter or digit, so it is always a
//   safe file name on every file system (no case folding surprises); `default` is the root database.
//   The file `<dataDir>/<name>.db` is created on first use.
// - Every connection runs in WAL mode with synchronous=FULL: WAL lets readers proceed while one writer
//   writes; FULL fsyncs the WAL at every commit, so a write acknowledged to a client survives a kill -9
//   of the server and a power loss (NORMAL only survives the former). Throwaway (`:memory:`) databases
//   use synchronous=OFF since they are deleted on close anyway.
// - busy_timeout is 0 on purpose: the engine is single-threaded, so a blocking busy wait would stall the
//   very stream holding the lock. The executor retries SQLITE_BUSY asynchronously instead (same effect
//   as SQLite's busy handler, without blocking).
// - foreign_keys=ON on every connection (what @libsql/client's migrate() expects of a server).
// - A connection given back is reused only if it is clean: not inside a transaction (rolled back
//   first), never ran PRAGMA/ATTACH/DETACH/CREATE TEMP or a multi-statement sequence, and never had a
//   statement abandoned mid-iteration. Anything else is closed, so no state leaks between streams.
// Cost: opening a connection is ~0.4 ms, so the pool saves that on every one-shot `execute`.

import fs from 'node:fs'
import path from 'node:path'
import Database from 'libsql'

export type Statement = ReturnType<Database.Database['prepare']>

export const DEFAULT_NAMESPACE = 'default'
const NAMESPACE = /^[a-z0-9][a-z0-9_-]{0,62}$/

export function isValidNamespace(name: string): boolean {
  return NAMESPACE.test(name)
}

export interface Connection {
  readonly db: Database.Database
  readonly namespace: string
  /** Prepared statements by SQL text, most recently used last. */
  readonly statements: Map<string, Statement>
  /** Connection-level state may differ from a fresh connection's: close instead of pooling. */
  dirty: boolean
  /** A statement was abandoned mid-iteration and may pin an old read snapshot: replace before reuse. */
  poisoned: boolean
}

export interface DatabasesOptions {
  /** Directory holding `<namespace>.db` files. */
  dir: string
  /** Durability: 'FULL' for real data, 'OFF' for throwaway databases. */
  synchronous: 'FULL' | 'OFF'
  /** Idle connections kept per namespace. */
  poolSize: number
  /** Prepared statements cached per connection. */
  statementCacheSize: number
  /** SQLite's wal_autocheckpoint; 0 when the server checkpoints itself (embedded replicas). Default 1000. */
  walAutocheckpoint?: number
}

export class Databases {
  private readonly options: DatabasesOptions
  private readonly idle = new Map<string, Connection[]>()
  private readonly open = new Set<Connection>()

  constructor(options: DatabasesOptions) {
    this.options = { ...options }
    fs.mkdirSync(options.dir, { recursive: true })
  }

  filePath(namespace: string): string {
    if (!isValidNamespace(namespace)) throw new Error(`invalid namespace ${JSON.stringify(namespace)}`)
    return path.join(this.options.dir, `${namespace}.db`)
  }

  acquire(namespace: string): Connection {
    const pooled = this.idle.get(namespace)?.pop()
    if (pooled !== undefined) return pooled
    const db = new Database(this.filePath(namespace))
    try {
      db.defaultSafeIntegers(true)
      db.exec(
        `PRAGMA journal_mode=WAL; PRAGMA synchronous=${this.options.synchronous}; PRAGMA busy_timeout=0; PRAGMA foreign_keys=ON; PRAGMA wal_autocheckpoint=${this.options.walAutocheckpoint ?? 1000}`,
      )
    } catch (error) {
      db.close()
      throw error
    }
    const conn: Connection = { db, namespace, statements: new Map(), dirty: false, poisoned: false }
    this.open.add(conn)
    return conn
  }

  /** Gives a connection back: rolls back an open transaction, then pools or closes it. */
  release(conn: Connection): void {
    try {
      if (conn.db.inTransaction) conn.db.exec('ROLLBACK')
    } catch {
      conn.dirty = true
    }
    const pool = this.idle.get(conn.namespace) ?? []
    if (conn.dirty || conn.poisoned || pool.length >= this.options.poolSize) {
      this.close(conn)
      return
    }
    pool.push(conn)
    this.idle.set(conn.namespace, pool)
  }

  /** Replaces a poisoned connection by a fresh one for the same namespace (outside a transaction only). */
  replace(conn: Connection): Connection {
    this.close(conn)
    const fresh = this.acquire(conn.namespace)
    return fresh
  }

  prepare(conn: Connection, sql: string): Statement {
    const cached = conn.statements.get(sql)
    if (cached !== undefined) {
      conn.statements.delete(sql)
      conn.statements.set(sql, cached)
      return cached
    }
    const stmt = conn.db.prepare(sql)
    if (stmt.reader) stmt.raw(true)
    conn.statements.set(sql, stmt)
    if (conn.statements.size > this.options.statementCacheSize)
      conn.statements.delete(conn.statements.keys().next().value as string)
    return stmt
  }

  close(conn: Connection): void {
    if (!this.open.delete(conn)) return
    const pool = this.idle.get(conn.namespace)
    const i = pool?.indexOf(conn) ?? -1
    if (pool !== undefined && i >= 0) pool.splice(i, 1)
    conn.statements.clear()
    try {
      conn.db.close()
    } catch {
      // closing is best effort; SQLite frees the handle once its statements are collected
    }
  }

  closeAll(): void {
    for (const conn of [...this.open]) this.close(conn)
    this.idle.clear()
  }
}

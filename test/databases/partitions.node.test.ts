/**
 * The partition router against real SQLite: the same rows written through the router into
 * three shard databases and directly into one unsharded database; then a randomized set of
 * reads must answer the same on both (a differential test), and writes stay equal.
 */
import Database from 'libsql'
import { describe, expect, it } from 'vitest'
import { gather, type ShardRows } from '../../workers/databases/partitions/merge'
import { PartitionError, planStatement } from '../../workers/databases/partitions/route'
import { newScheme, type PartitionScheme, schemeProblem } from '../../workers/databases/partitions/scheme'
import type { SqlValue } from '../../workers/databases/partitions/values'

/** A hash table stored without bounds (hash mod shards, as before hash ranges) and a range table. */
const LEGACY: PartitionScheme = {
  shards: 3,
  tables: {
    items: { key: 'id', by: 'hash' },
    events: { key: 'tenant', by: 'range', bounds: ['g', 'p'] },
  },
}
const scheme = LEGACY

const SCHEMA = [
  'CREATE TABLE items (id INTEGER PRIMARY KEY, grp TEXT, n INTEGER, r REAL, s TEXT)',
  'CREATE TABLE events (tenant TEXT NOT NULL, seq INTEGER NOT NULL, v INTEGER, PRIMARY KEY (tenant, seq))',
  'CREATE INDEX items_grp ON items (grp)',
]

function open(): Database.Database {
  const db = new Database(':memory:')
  db.defaultSafeIntegers(true)
  return db
}

function query(db: Database.Database, sql: string, args: readonly SqlValue[]): ShardRows {
  const statement = db.prepare(sql)
  if (!statement.reader) {
    statement.run([...args])
    return { columns: [], rows: [] }
  }
  const columns = statement.columns().map((c) => ({ name: c.name, decltype: c.type ?? null }))
  return { columns, rows: statement.raw(true).all([...args]) as SqlValue[][] }
}

class Sharded {
  readonly shards: Database.Database[]
  constructor(readonly scheme: PartitionScheme = LEGACY) {
    this.shards = Array.from({ length: scheme.shards }, open)
  }
  run(sql: string, args: SqlValue[] = []): ShardRows {
    const plan = planStatement(this.scheme, sql, { positional: args, named: new Map() })
    switch (plan.kind) {
      case 'one':
        return query(this.shards[plan.shard] as Database.Database, sql, args)
      case 'every-shard':
        for (const shard of this.shards) query(shard, sql, args)
        return { columns: [], rows: [] }
      case 'scatter':
        return gather(
          plan.select,
          plan.shards.map((i) =>
            query(
              this.shards[i] as Database.Database,
              plan.select.sql,
              args.slice(0, plan.select.positionalArgs),
            ),
          ),
        )
      case 'transaction':
        throw new Error('not in this test')
    }
  }
}

/** A seeded generator, so a failure names a reproducible case. */
function random(seed: number) {
  let state = seed
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0
    return state / 2 ** 32
  }
  return {
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)] as T,
    chance: (p: number) => next() < p,
  }
}

function canonical(value: SqlValue): string {
  if (typeof value === 'number') return `f${Number(value.toPrecision(10))}`
  if (typeof value === 'bigint') return `f${Number(value)}`
  if (value instanceof Uint8Array) return `b${Buffer.from(value).toString('hex')}`
  return JSON.stringify(value)
}

function rowsOf(result: ShardRows, ordered: boolean): string[] {
  const rows = result.rows.map((row) => row.map(canonical).join('|'))
  return ordered ? rows : rows.sort()
}

const GROUPS = ['a', 'b', 'c', 'd', 'e', null]
const TENANTS = ['acme', 'globex', 'hooli', 'initech', 'pied', 'umbrella', 'zeta']

function seed(sharded: Sharded, reference: Database.Database) {
  const rng = random(7)
  for (const sql of SCHEMA) {
    sharded.run(sql)
    query(reference, sql, [])
  }
  for (let id = 1; id <= 400; id++) {
    const args: SqlValue[] = [
      BigInt(id),
      rng.pick(GROUPS),
      rng.chance(0.1) ? null : BigInt(rng.int(-50, 50)),
      rng.chance(0.1) ? null : rng.int(0, 10_000) / 7,
      `s${rng.int(0, 60)}`,
    ]
    const sql = 'INSERT INTO items (id, grp, n, r, s) VALUES (?, ?, ?, ?, ?)'
    sharded.run(sql, args)
    query(reference, sql, args)
  }
  for (let seq = 1; seq <= 200; seq++) {
    const args: SqlValue[] = [rng.pick(TENANTS), BigInt(seq), BigInt(rng.int(0, 9))]
    const sql = 'INSERT INTO events (tenant, seq, v) VALUES (?, ?, ?)'
    sharded.run(sql, args)
    query(reference, sql, args)
  }
}

/** Queries and whether their ORDER BY fixes the whole order. */
function randomQuery(rng: ReturnType<typeof random>): { sql: string; args: SqlValue[]; ordered: boolean } {
  const n = BigInt(rng.int(-40, 40))
  const cases = [
    () => ({
      sql: 'SELECT id, grp, n FROM items WHERE n > ? ORDER BY n DESC, id LIMIT ? OFFSET ?',
      args: [n, BigInt(rng.int(0, 30)), BigInt(rng.int(0, 20))],
      ordered: true,
    }),
    () => ({
      sql: 'SELECT count(*), sum(n), min(r), max(s), avg(n), total(r), count(n) FROM items WHERE grp = ?',
      args: [rng.pick(GROUPS.slice(0, 5))],
      ordered: true,
    }),
    () => ({
      sql: 'SELECT grp, count(*) AS c, sum(n), avg(r), min(n) FROM items GROUP BY grp',
      args: [],
      ordered: true,
    }),
    () => ({
      sql: 'SELECT grp, count(*) AS c FROM items WHERE n < ? GROUP BY grp ORDER BY c DESC, grp LIMIT 3',
      args: [n],
      ordered: true,
    }),
    () => ({ sql: 'SELECT DISTINCT grp FROM items ORDER BY grp DESC', args: [], ordered: true }),
    () => ({
      sql: 'SELECT DISTINCT s FROM items WHERE n BETWEEN ? AND ? ORDER BY 1 LIMIT 10',
      args: [n, n + 20n],
      ordered: true,
    }),
    () => ({
      sql: 'SELECT * FROM items WHERE id IN (?, ?, ?) ORDER BY id',
      args: [BigInt(rng.int(1, 400)), BigInt(rng.int(1, 400)), BigInt(rng.int(1, 400))],
      ordered: true,
    }),
    () => ({
      sql: 'SELECT s FROM items ORDER BY r NULLS LAST, id LIMIT ?',
      args: [BigInt(rng.int(1, 40))],
      ordered: true,
    }),
    () => ({
      sql: 'SELECT grp, max(n) FROM items GROUP BY grp ORDER BY max(n) DESC, grp',
      args: [],
      ordered: true,
    }),
    () => ({ sql: 'SELECT grp FROM items GROUP BY grp ORDER BY sum(n), grp', args: [], ordered: true }),
    () => ({
      sql: 'SELECT id, n * 2 AS twice FROM items WHERE grp IS NULL AND n IS NOT NULL',
      args: [],
      ordered: false,
    }),
    () => ({ sql: 'SELECT tenant, count(*), sum(v) FROM events GROUP BY tenant', args: [], ordered: true }),
    () => ({
      sql: 'SELECT seq, v FROM events WHERE tenant = ? ORDER BY seq DESC LIMIT 5',
      args: [rng.pick(TENANTS)],
      ordered: true,
    }),
    () => ({
      sql: 'SELECT count(*) FROM events WHERE v >= ? AND tenant IN (?, ?)',
      args: [BigInt(rng.int(0, 9)), rng.pick(TENANTS), rng.pick(TENANTS)],
      ordered: true,
    }),
    () => ({ sql: 'SELECT id FROM items WHERE id = ?', args: [BigInt(rng.int(1, 420))], ordered: true }),
    () => ({
      sql: 'SELECT avg(r) AS mean, count(*) n FROM items WHERE s > ? LIMIT 1',
      args: [`s${rng.int(0, 60)}`],
      ordered: true,
    }),
  ]
  return rng.pick(cases)()
}

describe('partitioned tables on three SQLite shards', () => {
  const sharded = new Sharded()
  const reference = open()
  seed(sharded, reference)

  it('spreads the rows over every shard and loses none', () => {
    const counts = sharded.shards.map((db) =>
      Number(query(db, 'SELECT count(*) FROM items', []).rows[0]?.[0]),
    )
    expect(counts.reduce((a, b) => a + b)).toBe(400)
    expect(counts.every((count) => count > 80)).toBe(true)
    const tenants = sharded.shards.map((db) =>
      query(db, 'SELECT DISTINCT tenant FROM events ORDER BY 1', []).rows.flat(),
    )
    expect(tenants).toEqual([['acme'], ['globex', 'hooli', 'initech'], ['pied', 'umbrella', 'zeta']])
  })

  it('answers 400 random reads exactly as one unsharded database', () => {
    const rng = random(42)
    const kinds = new Map<string, number>()
    for (let i = 0; i < 400; i++) {
      const { sql, args, ordered } = randomQuery(rng)
      const kind = planStatement(scheme, sql, { positional: args, named: new Map() }).kind
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1)
      const expected = query(reference, sql, args)
      const actual = sharded.run(sql, args)
      const context = `${sql} with ${JSON.stringify(args, (_, v) => (typeof v === 'bigint' ? `${v}` : v))}`
      expect(
        actual.columns.map((c) => c.name),
        context,
      ).toEqual(expected.columns.map((c) => c.name))
      expect(rowsOf(actual, ordered), context).toEqual(rowsOf(expected, ordered))
    }
    expect(kinds.get('scatter')).toBeGreaterThan(250)
    expect(kinds.get('one')).toBeGreaterThan(20)
  })

  it('keeps pinned writes equal to the unsharded database', () => {
    const rng = random(9)
    for (let i = 0; i < 200; i++) {
      const id = BigInt(rng.int(1, 400))
      const [sql, args] = rng.pick([
        ['UPDATE items SET n = coalesce(n, 0) + 1 WHERE id = ?', [id]],
        ['DELETE FROM items WHERE id IN (?)', [id]],
        [
          'INSERT INTO items (id, grp, n) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET n = excluded.n',
          [id, 'z', 5n],
        ],
        [
          'UPDATE events SET v = v + 1 WHERE tenant = ? AND seq > ?',
          [rng.pick(TENANTS), BigInt(rng.int(0, 200))],
        ],
      ] as Array<[string, SqlValue[]]>)
      sharded.run(sql, args)
      query(reference, sql, args)
    }
    for (const sql of ['SELECT * FROM items ORDER BY id', 'SELECT * FROM events ORDER BY tenant, seq'])
      expect(rowsOf(sharded.run(sql), true)).toEqual(rowsOf(query(reference, sql, []), true))
  })

  it('refuses what it cannot do on one shard or merge exactly, before running anything', () => {
    const refused = [
      'UPDATE items SET n = 1',
      'DELETE FROM items WHERE n > 3',
      'DELETE FROM items WHERE id IN (1, 2, 3, 4, 5, 6)',
      'UPDATE items SET id = 9 WHERE id = 1',
      "INSERT INTO items (id, grp) VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')",
      "INSERT INTO items VALUES (1, 'a', 1, 1.0, 's')",
      'INSERT INTO items (id) SELECT id + 1000 FROM items',
      'INSERT INTO items (id, n) VALUES (1, 1) ON CONFLICT (id) DO UPDATE SET id = 5',
      'SELECT * FROM items JOIN events ON items.s = events.tenant',
      'SELECT * FROM items WHERE n IN (SELECT v FROM events)',
      'SELECT grp, count(*) FROM items GROUP BY grp HAVING count(*) > 3',
      'SELECT group_concat(s) FROM items',
      'SELECT count(DISTINCT grp) FROM items',
      'SELECT count(*) + 1 FROM items',
      'SELECT grp, n FROM items GROUP BY grp',
      'SELECT id, row_number() OVER (ORDER BY id) FROM items',
      'SELECT id FROM items UNION SELECT seq FROM events',
      'SELECT s FROM items ORDER BY s COLLATE NOCASE',
    ]
    for (const sql of refused)
      expect(() => planStatement(scheme, sql, { positional: [], named: new Map() }), sql).toThrow(
        PartitionError,
      )
  })

  it('routes named parameters, keys in either operand order, and statements on other tables home', () => {
    const plan = (sql: string, named: Array<[string, SqlValue]> = []) =>
      planStatement(scheme, sql, { positional: [], named: new Map(named) })
    const one = plan('SELECT * FROM items WHERE :id = id AND n > 0', [['id', 5n]])
    const again = plan('SELECT * FROM items AS i WHERE i.id = 5')
    expect(one).toEqual(again)
    expect(one.kind).toBe('one')
    expect(plan('SELECT * FROM items WHERE id = 5 OR id = 6').kind).toBe('scatter')
    expect(plan('CREATE TABLE settings (k TEXT PRIMARY KEY, v TEXT)')).toEqual({ kind: 'one', shard: 0 })
    expect(plan('CREATE INDEX items_s ON items (s)').kind).toBe('every-shard')
    expect(plan('DROP INDEX IF EXISTS items_grp').kind).toBe('every-shard')
    expect(() => plan('DROP INDEX items_grp')).toThrow(PartitionError)
    expect(plan('BEGIN IMMEDIATE')).toEqual({ kind: 'transaction', word: 'BEGIN' })
  })

  it('checks schemes', () => {
    expect(schemeProblem(scheme)).toBeUndefined()
    expect(
      schemeProblem({ shards: 3, tables: { t: { key: 'k', by: 'range', bounds: ['p', 'g'] } } }),
    ).toMatch(/ascending/)
    expect(schemeProblem({ shards: 3, tables: { t: { key: 'k', by: 'range', bounds: ['g'] } } })).toMatch(
      /2 range bounds/,
    )
    expect(schemeProblem({ shards: 0, tables: {} })).toMatch(/positive/)
  })
})

describe('the same tables with hash ranges (as a database made now)', () => {
  const ranged = newScheme(LEGACY)
  const sharded = new Sharded(ranged)
  const reference = open()
  seed(sharded, reference)

  it('spreads the rows over every shard and answers 200 random reads as one database', () => {
    expect(ranged.tables.items?.bounds).toEqual([1431655765, 2863311530])
    const counts = sharded.shards.map((db) =>
      Number(query(db, 'SELECT count(*) FROM items', []).rows[0]?.[0]),
    )
    expect(counts.reduce((a, b) => a + b)).toBe(400)
    expect(counts.every((count) => count > 80)).toBe(true)
    const rng = random(7)
    for (let i = 0; i < 200; i++) {
      const { sql, args, ordered } = randomQuery(rng)
      expect(rowsOf(sharded.run(sql, args), ordered), sql).toEqual(
        rowsOf(query(reference, sql, args), ordered),
      )
    }
  })
})

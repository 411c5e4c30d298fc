/**
 * Hash ranges against real SQLite: the hash point the router computes for a key literal
 * equals the one the storage side computes in plain SQL for the stored value, under every
 * column affinity; a hash split's fence triggers refuse exactly the writes of the moving
 * range; and the job's SQL picks from change-log images agree with the router.
 */
import Database from 'libsql'
import { describe, expect, it } from 'vitest'
import { CREATE_CHANGES, triggerStatements } from '../../workers/databases/changelog'
import { hashPoint, hashPointSql } from '../../workers/databases/partitions/hash-ranges'
import {
  FENCE_MARK,
  fenceStatements,
  imageMovesSql,
  planReshard,
  type ReshardPlan,
} from '../../workers/databases/partitions/reshard'
import { newScheme, shardOfKey } from '../../workers/databases/partitions/scheme'
import type { SqlValue } from '../../workers/databases/partitions/values'

function open(): Database.Database {
  const db = new Database(':memory:')
  db.defaultSafeIntegers(true)
  return db
}

/** The SQL literal of a value (so no driver conversion stands between the test and SQLite). */
function sqlLiteral(value: SqlValue): string {
  if (value === null) return 'NULL'
  if (value instanceof Uint8Array) return `X'${Buffer.from(value).toString('hex')}'`
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`
  if (typeof value === 'number' && Number.isInteger(value)) return value.toFixed(1)
  return String(value)
}

const KEYS: SqlValue[] = [
  0n, 1n, -1n, 5n, 5.5, 5, -0.0, 0.1, 1e19, 2 ** 53, 9007199254740993n, 9223372036854775807n,
  -9223372036854775808n, '5', ' 5 ', '+5', '-0', '-0.0', '5.', '.5', '1e3', '1.5e2', '3.0', '1e400',
  '9223372036854775808', '12345678901234567890', ' 7\t', '0x10', '5abc', 'abc', '', 'é☃', "it's",
  new Uint8Array([1, 2, 255]), null,
] // biome-ignore format: a value list

describe('hash points in JS and in SQL', () => {
  it('agree for every key under every column affinity', () => {
    const db = open()
    for (const type of ['', 'INTEGER', 'TEXT', 'NUMERIC', 'REAL', 'BLOB']) {
      db.exec(`CREATE TABLE t${type || 'none'} (k ${type})`)
      for (const key of KEYS) {
        const t = `t${type || 'none'}`
        db.exec(`DELETE FROM ${t}; INSERT INTO ${t} VALUES (${sqlLiteral(key)})`)
        const row = db.prepare(`SELECT ${hashPointSql('k')} AS h, typeof(k) AS type FROM ${t}`).get() as {
          h: bigint
          type: string
        }
        // The edges left, where SQLite stores another value than the key (and compares the
        // key converted alike): a REAL column rounds an integer beyond 2^53, and a TEXT
        // column keeps 15 significant digits of a real.
        if (type === 'TEXT' && typeof key === 'number' && Math.abs(key) >= 1e15) continue
        if (type === 'REAL' && typeof key === 'bigint' && (key > 2n ** 53n || key < -(2n ** 53n))) continue
        expect(Number(row.h), `${type} ${String(key)}`).toBe(hashPoint(key))
      }
    }
  })
})

const split = (at?: number): ReshardPlan => {
  const plan = planReshard(newScheme({ shards: 2, tables: { events: { key: 'day', by: 'hash' } } }), {
    split: { shard: 0, ...(at === undefined ? {} : { at }) },
  })
  if (typeof plan === 'string' || 'conflict' in plan) throw new Error(JSON.stringify(plan))
  return plan
}

describe('a hash split on a storage node', () => {
  it('fences exactly the writes of the moving hash range', () => {
    const db = open()
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, day INTEGER NOT NULL, what TEXT)')
    const plan = split()
    for (let id = 1; id <= 200; id++) db.exec(`INSERT INTO events VALUES (${id}, ${id % 50}, 'x')`)
    for (const statement of fenceStatements(plan, 'events', 'moving')) db.exec(statement)
    const table = plan.scheme.tables.events as NonNullable<(typeof plan.scheme.tables)['events']>
    let fenced = 0
    for (let day = 0; day < 50; day++) {
      const moving = shardOfKey(plan.scheme, table, day) === plan.target
      const attempts = [
        `INSERT INTO events VALUES (${1000 + day}, ${day}, 'new')`,
        `INSERT INTO events VALUES (${2000 + day}, '${day}', 'as text')`,
        `UPDATE events SET what = 'u' WHERE day = ${day}`,
        `DELETE FROM events WHERE day = ${day}`,
      ]
      for (const sql of attempts) {
        let refused = false
        try {
          db.exec(sql)
        } catch (error) {
          expect(String(error)).toContain(FENCE_MARK)
          refused = true
        }
        expect(refused, `${sql} (moving: ${moving})`).toBe(moving)
      }
      if (moving) fenced++
    }
    // Shard 0 of 2 split at its midpoint: about a quarter of all keys move.
    expect(fenced).toBeGreaterThan(2)
    expect(fenced).toBeLessThan(25)
  })

  it('picks moving changes from change-log images as the router places their keys', () => {
    const db = open()
    db.exec('CREATE TABLE events (id INTEGER PRIMARY KEY, Day, what TEXT)')
    db.exec(CREATE_CHANGES)
    for (const statement of triggerStatements('events', ['id', 'Day', 'what'])) db.exec(statement)
    const plan = split(1_500_000_000)
    const keys = KEYS.filter((key) => !(typeof key === 'bigint' && (key > 2n ** 53n || key < -(2n ** 53n))))
    for (const [i, key] of keys.entries())
      db.exec(`INSERT INTO events VALUES (${i + 1}, ${sqlLiteral(key)}, 'x')`)
    const moving = imageMovesSql(plan, [{ name: 'events', columns: ['id', 'Day', 'what'], key: 'day' }])
    const rows = db
      .prepare(`SELECT rid, ${moving} AS m FROM _edgeblocks_changes ORDER BY seq`)
      .all() as Array<{
      rid: bigint
      m: bigint
    }>
    expect(rows).toHaveLength(keys.length)
    const table = plan.scheme.tables.events as NonNullable<(typeof plan.scheme.tables)['events']>
    for (const row of rows) {
      const key = keys[Number(row.rid) - 1] as SqlValue
      expect(row.m === 1n, String(key)).toBe(shardOfKey(plan.scheme, table, key) === plan.target)
    }
  })
})

/**
 * The failover rules against real SQLite: the candidate choice, a promoted copy's log
 * continuing after its position (positions never reused), and a deposed copy refusing
 * every captured write while a primary accepts them.
 */
import Database from 'libsql'
import { describe, expect, it } from 'vitest'
import {
  CREATE_REPLICA,
  POSITION_SQL,
  REPLICA_TABLE,
  triggerStatements,
} from '../../workers/databases/changelog'
import {
  deposeStatements,
  FENCED_MESSAGE,
  pickCandidate,
  primaryStatements,
  promoteStatements,
} from '../../workers/databases/failover'

function run(db: Database.Database, statements: string[]): void {
  for (const sql of statements) db.exec(sql)
}

describe('failover rules', () => {
  it('picks the reachable, ready, undelayed replica with the highest position, if it covers the acknowledged writes', () => {
    const c = (id: string, position: number | undefined, ready = 0, delayMs = 0) => ({
      id,
      position,
      ready,
      delayMs,
    })
    expect(pickCandidate([c('a', 5), c('b', 9), c('c', undefined)], 9)?.id).toBe('b')
    expect(pickCandidate([c('a', 5), c('b', 8)], 9)).toBeUndefined()
    expect(pickCandidate([c('a', 12, 0, 1000), c('b', 10)], 9)?.id).toBe('b')
    expect(pickCandidate([c('a', 12, 20), c('b', 10)], 9)?.id).toBe('b')
    expect(pickCandidate([], 0)).toBeUndefined()
    expect(pickCandidate([c('a', 0)], 0)?.id).toBe('a')
  })

  it('continues the log after the promoted position and fences a deposed copy', () => {
    const db = new Database(':memory:')
    run(db, [CREATE_REPLICA, `INSERT INTO ${REPLICA_TABLE} VALUES (1, 41, 0, 0)`, 'CREATE TABLE t (x)'])
    run(db, promoteStatements(2, 41))
    run(db, triggerStatements('t', ['x']))
    db.exec('INSERT INTO t VALUES (1)')
    expect(db.prepare(POSITION_SQL).get()).toMatchObject({ position: 42 })
    expect(db.prepare(`SELECT name FROM sqlite_schema WHERE name = '${REPLICA_TABLE}'`).all()).toHaveLength(0)
    run(db, deposeStatements(3))
    expect(() => db.exec('INSERT INTO t VALUES (2)')).toThrow(FENCED_MESSAGE)
    expect(db.prepare('SELECT count(*) AS n FROM t').get()).toMatchObject({ n: 1 })
    run(db, primaryStatements(3))
    db.exec('INSERT INTO t VALUES (3)')
    expect(db.prepare(POSITION_SQL).get()).toMatchObject({ position: 43 })
  })
})

/**
 * Change capture on a primary (the SQL of changelog.ts run against a storage node).
 *
 * - `captureSchema(client, 'check')`: if capture is on, compares the schema with the one last
 *   recorded and, when they differ, logs the difference and re-images and re-triggers the
 *   tables it touches, all in one write transaction (a concurrent capture finds nothing left
 *   to do). Cost: two small reads when nothing changed.
 * - `captureSchema(client, 'checkpoint')`: turns capture on if needed and logs the whole
 *   database (every schema object and every row) after the current position: a replica that
 *   starts empty at `start` and replays the log reaches the primary's exact state at `end`.
 *   Cost: one log row per row of the database.
 * - `readPosition(client)`: the log's position (0 when capture is off).
 */
import type { Client, InStatement, Transaction } from '@libsql/client/web'
import {
  CHANGES_TABLE,
  CREATE_CHANGES,
  CREATE_SCHEMA,
  imageStatement,
  POSITION_SQL,
  SCHEMA_OBJECTS_SQL,
  SCHEMA_TABLE,
  type SchemaObject,
  schemaDiff,
  triggerStatements,
} from './changelog'

export interface Capture {
  changed: boolean
  /** The position before the capture's entries. */
  start: number
  /** The position after them. */
  end: number
}

async function position(tx: Transaction | Client): Promise<number> {
  const result = await tx.execute(POSITION_SQL)
  return Number(result.rows[0]?.position ?? 0)
}

export async function readPosition(client: Client): Promise<number> {
  try {
    return await position(client)
  } catch {
    return 0
  }
}

async function enabled(tx: Transaction): Promise<boolean> {
  const found = await tx.execute({
    sql: "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?",
    args: [CHANGES_TABLE],
  })
  return found.rows.length > 0
}

function objects(rows: Array<Record<string, unknown>>): SchemaObject[] {
  return rows.map((row) => ({
    type: String(row.type),
    name: String(row.name),
    tbl_name: String(row.tbl_name),
    sql: String(row.sql),
  }))
}

export async function captureSchema(client: Client, mode: 'check' | 'checkpoint'): Promise<Capture> {
  const tx = await client.transaction('write')
  try {
    if (mode === 'checkpoint') {
      await tx.batch([CREATE_CHANGES, CREATE_SCHEMA, `DELETE FROM ${SCHEMA_TABLE}`])
    } else if (!(await enabled(tx))) {
      await tx.rollback()
      return { changed: false, start: 0, end: 0 }
    }
    const start = await position(tx)
    const [knownRows, currentRows] = await tx.batch([`SELECT * FROM ${SCHEMA_TABLE}`, SCHEMA_OBJECTS_SQL])
    const current = objects(currentRows?.rows ?? [])
    const diff = schemaDiff(objects(knownRows?.rows ?? []), current)
    if (diff.statements.length === 0) {
      await tx.commit()
      return { changed: false, start, end: start }
    }
    const statements: InStatement[] = []
    const columnsOf = new Map<string, string[]>()
    for (const table of diff.rebuilt) {
      const columns = await tx.execute({
        sql: 'SELECT name FROM pragma_table_info(?) ORDER BY cid',
        args: [table],
      })
      columnsOf.set(
        table,
        columns.rows.map((row) => String(row.name)),
      )
    }
    for (const [table, columns] of columnsOf) statements.push(...triggerStatements(table, columns))
    statements.push({
      sql: `INSERT INTO ${CHANGES_TABLE} (tbl, op, row, at) VALUES (NULL, 'S', ?, CAST(unixepoch('subsec') * 1000 AS INTEGER))`,
      args: [JSON.stringify(diff.statements)],
    })
    for (const [table, columns] of columnsOf) statements.push(imageStatement(table, columns))
    // The entry names the position its images end at: a replica is not read until it gets there.
    statements.push({
      sql: `UPDATE ${CHANGES_TABLE} SET rid = (${POSITION_SQL}) WHERE seq = ?`,
      args: [start + 1],
    })
    statements.push(`DELETE FROM ${SCHEMA_TABLE}`)
    for (const o of current) {
      statements.push({
        sql: `INSERT INTO ${SCHEMA_TABLE} (type, name, tbl_name, sql) VALUES (?, ?, ?, ?)`,
        args: [o.type, o.name, o.tbl_name, o.sql],
      })
    }
    await tx.batch(statements)
    const end = await position(tx)
    await tx.commit()
    return { changed: true, start, end }
  } catch (error) {
    if (!tx.closed) await tx.rollback().catch(() => undefined)
    throw error
  } finally {
    tx.close()
  }
}

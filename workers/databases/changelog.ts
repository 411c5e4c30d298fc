/**
 * The change log of a replicated database, as SQL text (no I/O here).
 *
 * Capture: every user table of the primary (rowid tables; names starting `_edgeblocks_` are
 * the platform's) carries three triggers, AFTER INSERT/UPDATE/DELETE, that append one row to
 * `_edgeblocks_changes` inside the writing statement's own transaction: `seq` (AUTOINCREMENT,
 * so a position is never reused after the log is pruned), the table, the operation, the
 * rowid (and the old one for an update), the full row image as JSON and the commit time. A
 * committed write therefore always has its change in the log, in commit order, and a rolled
 * back one never does.
 *
 * Schema: the primary's schema is compared with the last one recorded (`_edgeblocks_schema`,
 * see `schemaDiff`); a difference becomes one `S` entry (DROP … IF EXISTS / CREATE statements)
 * followed by a full image of every created or changed table, so a replica that replays the log
 * in order ends with exactly the primary's rows even for rows written between a DDL statement
 * and its capture. User triggers are not replicated (their effects arrive as row images).
 *
 * Values are encoded so that they come back with their exact SQLite type: integers as JSON
 * integers (64-bit exact: decoded by SQLite, never by JavaScript), text as JSON strings, NULL,
 * reals as `["r", "%!.17g"]` (round-trip exact), blobs as `["b", hex]`.
 *
 * Cost: one extra row insert per changed row on the primary; one statement per change on a
 * replica.
 */

export const CHANGES_TABLE = '_edgeblocks_changes'
export const SCHEMA_TABLE = '_edgeblocks_schema'
export const REPLICA_TABLE = '_edgeblocks_replica'
export const RESERVED_PREFIX = '_edgeblocks_'

export const CREATE_CHANGES = `CREATE TABLE IF NOT EXISTS ${CHANGES_TABLE} (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, tbl TEXT, op TEXT NOT NULL, rid INTEGER, old_rid INTEGER,
  row TEXT, at INTEGER NOT NULL)`
export const CREATE_SCHEMA = `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (
  type TEXT NOT NULL, name TEXT PRIMARY KEY, tbl_name TEXT NOT NULL, sql TEXT NOT NULL)`
/** The position of the log: the last `seq` ever assigned (0 before the first change). */
export const POSITION_SQL = `SELECT coalesce((SELECT seq FROM sqlite_sequence WHERE name = '${CHANGES_TABLE}'), 0) AS position`
/** The user schema objects that replicate (tables, indexes, views; not triggers). */
export const SCHEMA_OBJECTS_SQL = `SELECT type, name, tbl_name, sql FROM sqlite_schema
  WHERE sql IS NOT NULL AND type IN ('table', 'index', 'view')
    AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND name NOT LIKE '\\_edgeblocks\\_%' ESCAPE '\\'
    AND tbl_name NOT LIKE '\\_edgeblocks\\_%' ESCAPE '\\'
    AND tbl_name NOT IN (SELECT name FROM pragma_table_list WHERE type IN ('shadow', 'virtual'))
  ORDER BY name`
/**
 * The replica's applied position, and `ready`: the position it must reach before it is read
 * (the end of the images that follow a schema entry; while below it, tables may be partial).
 */
export const CREATE_REPLICA = `CREATE TABLE IF NOT EXISTS ${REPLICA_TABLE} (
  id INTEGER PRIMARY KEY CHECK (id = 1), position INTEGER NOT NULL, ready INTEGER NOT NULL,
  applied_at INTEGER NOT NULL)`

/** Statements that make a fresh namespace a replica at `start` of the log, readable from `ready`. */
export function seedReplicaStatements(start: number, ready: number, now: number) {
  return [
    CREATE_REPLICA,
    {
      sql: `INSERT INTO ${REPLICA_TABLE} (id, position, ready, applied_at) VALUES (1, ?, ?, ?)`,
      args: [start, ready, now],
    },
  ]
}
const NOW_MS = "CAST(unixepoch('subsec') * 1000 AS INTEGER)"

export interface SchemaObject {
  type: string
  name: string
  tbl_name: string
  sql: string
}

export function quoteIdentifier(name: string): string {
  return `"${name.replaceAll('"', '""')}"`
}

export function quoteLiteral(text: string): string {
  return `'${text.replaceAll("'", "''")}'`
}

/** Tables whose rows the log carries: ordinary rowid tables (not virtual, not WITHOUT ROWID). */
export function isCapturedTable(object: SchemaObject): boolean {
  return (
    object.type === 'table' &&
    /^\s*CREATE\s+TABLE/i.test(object.sql) &&
    !/\)\s*WITHOUT\s+ROWID[\s,;]*(STRICT)?[\s;]*$/i.test(object.sql)
  )
}

function encoded(alias: string, column: string): string {
  const value = `${alias}.${quoteIdentifier(column)}`
  return `json(CASE typeof(${value}) WHEN 'blob' THEN json_array('b', hex(${value})) WHEN 'real' THEN json_array('r', printf('%!.17g', ${value})) ELSE json_quote(${value}) END)`
}

/** A row image: `json_object(column, encoded value, …)` over `alias` (NEW, OLD or a table alias). */
export function rowImage(alias: string, columns: string[]): string {
  return `json_object(${columns.map((c) => `${quoteLiteral(c)}, ${encoded(alias, c)}`).join(', ')})`
}

function triggerName(table: string, op: string): string {
  return quoteIdentifier(`${RESERVED_PREFIX}${op}_${table}`)
}

/** The statements that (re)install the capture triggers of `table` with its current `columns`. */
export function triggerStatements(table: string, columns: string[]): string[] {
  const t = quoteIdentifier(table)
  const name = quoteLiteral(table)
  const insert = `INSERT INTO ${CHANGES_TABLE} (tbl, op, rid, old_rid, row, at)`
  return [
    ...['i', 'u', 'd'].map((op) => `DROP TRIGGER IF EXISTS ${triggerName(table, op)}`),
    `CREATE TRIGGER ${triggerName(table, 'i')} AFTER INSERT ON ${t} BEGIN ${insert} VALUES (${name}, 'I', NEW.rowid, NULL, ${rowImage('NEW', columns)}, ${NOW_MS}); END`,
    `CREATE TRIGGER ${triggerName(table, 'u')} AFTER UPDATE ON ${t} BEGIN ${insert} VALUES (${name}, 'U', NEW.rowid, OLD.rowid, ${rowImage('NEW', columns)}, ${NOW_MS}); END`,
    `CREATE TRIGGER ${triggerName(table, 'd')} AFTER DELETE ON ${t} BEGIN ${insert} VALUES (${name}, 'D', OLD.rowid, NULL, NULL, ${NOW_MS}); END`,
  ]
}

/** One statement logging a full image of every row of `table` (after a create or a change). */
export function imageStatement(table: string, columns: string[]): string {
  return `INSERT INTO ${CHANGES_TABLE} (tbl, op, rid, old_rid, row, at) SELECT ${quoteLiteral(table)}, 'I', r.rowid, NULL, ${rowImage('r', columns)}, ${NOW_MS} FROM ${quoteIdentifier(table)} AS r ORDER BY r.rowid`
}

export interface SchemaDiff {
  /** Statements a replica runs, in order (an `S` entry); empty when nothing changed. */
  statements: string[]
  /** Tables to re-image and re-trigger (created or changed). */
  rebuilt: string[]
}

const DROP_ORDER = ['view', 'index', 'table']
const CREATE_ORDER = ['table', 'index', 'view']

/** What turns a replica with schema `known` into one with schema `current` (see the file comment). */
export function schemaDiff(known: SchemaObject[], current: SchemaObject[]): SchemaDiff {
  const before = new Map(known.map((o) => [o.name, o]))
  const after = new Map(current.map((o) => [o.name, o]))
  const changed = (o: SchemaObject) =>
    before.get(o.name)?.sql !== o.sql || before.get(o.name)?.type !== o.type
  const rebuiltTables = new Set(current.filter((o) => o.type === 'table' && changed(o)).map((o) => o.name))
  const creates = current.filter((o) => changed(o) || (o.type === 'index' && rebuiltTables.has(o.tbl_name)))
  const drops = known.filter((o) => {
    const now = after.get(o.name)
    return !now || now.sql !== o.sql || now.type !== o.type
  })
  const statements: string[] = []
  for (const type of DROP_ORDER) {
    for (const o of drops.filter((d) => d.type === type)) {
      statements.push(`DROP ${type.toUpperCase()} IF EXISTS ${quoteIdentifier(o.name)}`)
    }
  }
  for (const type of CREATE_ORDER) {
    for (const o of creates.filter((c) => c.type === type)) {
      if (!drops.includes(o))
        statements.push(`DROP ${type.toUpperCase()} IF EXISTS ${quoteIdentifier(o.name)}`)
      statements.push(o.sql)
    }
  }
  return {
    statements: [...new Set(statements)],
    rebuilt: current.filter((o) => rebuiltTables.has(o.name) && isCapturedTable(o)).map((o) => o.name),
  }
}

export interface Change {
  seq: number
  tbl: string | null
  op: string
  rid: number | bigint | null
  old_rid: number | bigint | null
  row: string | null
}

export interface ReplicaStatement {
  sql: string
  args: Array<string | number | bigint | null>
}

function decoded(column: string): string {
  return `(SELECT CASE type WHEN 'array' THEN CASE json_extract(value, '$[0]') WHEN 'b' THEN unhex(json_extract(value, '$[1]')) ELSE CAST(json_extract(value, '$[1]') AS REAL) END ELSE atom END FROM json_each(?1) WHERE key = ${quoteLiteral(column)})`
}

/** The statements that apply one change on a replica. */
export function applyStatements(change: Change): ReplicaStatement[] {
  if (change.op === 'S') {
    return [
      ...(JSON.parse(change.row ?? '[]') as string[]).map((sql) => ({ sql, args: [] })),
      { sql: `UPDATE ${REPLICA_TABLE} SET ready = max(ready, ?) WHERE id = 1`, args: [change.rid ?? 0] },
    ]
  }
  const table = quoteIdentifier(change.tbl ?? '')
  if (change.op === 'D') return [{ sql: `DELETE FROM ${table} WHERE rowid = ?`, args: [change.rid] }]
  const columns = Object.keys(JSON.parse(change.row ?? '{}') as Record<string, unknown>)
  const statements: ReplicaStatement[] = []
  if (change.op === 'U' && change.old_rid !== null && change.old_rid !== change.rid) {
    statements.push({ sql: `DELETE FROM ${table} WHERE rowid = ?`, args: [change.old_rid] })
  }
  statements.push({
    sql: `INSERT OR REPLACE INTO ${table} (rowid${columns.map((c) => `, ${quoteIdentifier(c)}`).join('')}) VALUES (?2${columns.map((c) => `, ${decoded(c)}`).join('')})`,
    args: [change.row, change.rid],
  })
  return statements
}

/**
 * The guard that opens every batch applied to a replica: it fails (a CHECK violation, so
 * the whole batch rolls back) unless the replica is still at `expected`, so two appliers
 * can never apply the same changes twice.
 */
export function guardStatement(expected: number): ReplicaStatement {
  return {
    sql: `INSERT INTO ${REPLICA_TABLE} (id, position, ready, applied_at) SELECT 2, 0, 0, 0 WHERE (SELECT position FROM ${REPLICA_TABLE} WHERE id = 1) IS NOT ?`,
    args: [expected],
  }
}

export function advanceStatement(position: number, now: number): ReplicaStatement {
  return {
    sql: `UPDATE ${REPLICA_TABLE} SET position = ?, applied_at = ? WHERE id = 1`,
    args: [position, now],
  }
}

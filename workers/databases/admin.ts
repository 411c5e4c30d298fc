/**
 * Platform-side operations on a database: migrations and statistics.
 *
 * - `applyMigration`: the statements run in one write batch (one transaction on the node)
 *   together with the insert of the migration's id into `_edgeblocks_migrations`, whose
 *   primary key makes a second application of the same id fail as a whole: a migration is
 *   applied exactly once, all or nothing. A statement that fails rolls everything back and
 *   answers 400 with the engine's message.
 * - `databaseStats`: size (page_count × page_size), row counts of up to 100 tables, and the
 *   applied migrations. Cost: one query per table (a full count).
 */
import { LibsqlError } from '@libsql/client/web'
import { DATABASES_LIMITS, type MigrationInput } from '../../schemas/databases'
import { AppError } from '../platform/errors'
import { backendClient, type Database, quoteIdentifier } from './catalog'

const MIGRATIONS_TABLE = '_edgeblocks_migrations'
const CREATE_MIGRATIONS = `CREATE TABLE IF NOT EXISTS ${MIGRATIONS_TABLE} (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)`

function unreachable(db: Database, error: unknown): AppError {
  if (error instanceof LibsqlError) return new AppError('validation_failed', error.message)
  return new AppError('bad_gateway', `The storage node "${db.node.id}" did not answer.`)
}

export async function applyMigration(db: Database, input: MigrationInput, now = Date.now()) {
  const client = backendClient(db)
  try {
    await client.execute(CREATE_MIGRATIONS)
    const existing = await client.execute({
      sql: `SELECT 1 FROM ${MIGRATIONS_TABLE} WHERE id = ?`,
      args: [input.id],
    })
    if (existing.rows.length > 0) return { id: input.id, applied: false }
    await client.batch(
      [
        { sql: `INSERT INTO ${MIGRATIONS_TABLE} (id, applied_at) VALUES (?, ?)`, args: [input.id, now] },
        ...input.statements,
      ],
      'write',
    )
    return { id: input.id, applied: true }
  } catch (error) {
    if (error instanceof LibsqlError && /UNIQUE constraint failed/.test(error.message)) {
      return { id: input.id, applied: false }
    }
    throw unreachable(db, error)
  }
}

export async function databaseStats(db: Database) {
  const client = backendClient(db)
  try {
    const [pages, size, tables, hasMigrations] = await client.batch(
      [
        'PRAGMA page_count',
        'PRAGMA page_size',
        {
          sql: "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name LIMIT ?",
          args: [DATABASES_LIMITS.maxStatsTables],
        },
        { sql: "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?", args: [MIGRATIONS_TABLE] },
      ],
      'read',
    )
    const names = (tables?.rows ?? []).map((row) => String(row.name))
    const counts = names.length
      ? await client.batch(
          names.map((name) => `SELECT count(*) AS n FROM ${quoteIdentifier(name)}`),
          'read',
        )
      : []
    const migrations = hasMigrations?.rows.length
      ? (await client.execute(`SELECT id, applied_at FROM ${MIGRATIONS_TABLE} ORDER BY applied_at, id`)).rows
      : []
    const pageCount = Number(pages?.rows[0]?.[0] ?? 0)
    const pageSize = Number(size?.rows[0]?.[0] ?? 0)
    return {
      sizeBytes: pageCount * pageSize,
      pageCount,
      pageSize,
      tables: names.map((name, index) => ({ name, rows: Number(counts[index]?.rows[0]?.n ?? 0) })),
      migrations: migrations.map((row) => ({ id: String(row.id), appliedAt: Number(row.applied_at) })),
    }
  } catch (error) {
    throw unreachable(db, error)
  }
}

/**
 * Backing sources of a cache (the port the node and the routes call; I/O lives here):
 * - `libsql`: a table of the tenant's own libSQL database (Turso, sqld or the local server):
 *   `(key TEXT PRIMARY KEY, value TEXT NOT NULL)`, created if missing; a batch of changes
 *   is one write transaction.
 * - `http`: an origin: `GET {url}/{key}` answers the value as text (404 = absent);
 *   `POST {url}` with `{"changes":[{"key":…,"value":…|null}]}` applies a batch (2xx = done).
 * Only string values travel; `null` deletes. Any failure throws (callers retry or refuse).
 */
import { createClient } from '@libsql/client/web'

export type BackingConfig =
  | { kind: 'libsql'; url: string; authToken?: string | undefined; table: string }
  | { kind: 'http'; url: string; headers?: Record<string, string> | undefined }

export interface Change {
  key: string
  value: string | null
}

export interface BackingSource {
  get(key: string): Promise<string | null>
  write(changes: Change[]): Promise<void>
}

const TIMEOUT_MS = 10_000

export function backingSource(config: BackingConfig): BackingSource {
  return config.kind === 'libsql' ? libsqlSource(config) : httpSource(config)
}

function libsqlSource(config: Extract<BackingConfig, { kind: 'libsql' }>): BackingSource {
  const client = createClient({
    url: config.url,
    ...(config.authToken ? { authToken: config.authToken } : {}),
  })
  // The table name is checked by the settings schema (an SQL identifier), so quoting it is safe.
  const table = `"${config.table}"`
  const create = `CREATE TABLE IF NOT EXISTS ${table} (key TEXT PRIMARY KEY, value TEXT NOT NULL)`
  return {
    async get(key) {
      try {
        const result = await client.execute({ sql: `SELECT value FROM ${table} WHERE key = ?`, args: [key] })
        const value = result.rows[0]?.value
        return typeof value === 'string' ? value : null
      } catch (error) {
        if (/no such table/i.test(String(error))) return null
        throw error
      }
    },
    async write(changes) {
      await client.batch(
        [
          create,
          ...changes.map((change) =>
            change.value === null
              ? { sql: `DELETE FROM ${table} WHERE key = ?`, args: [change.key] }
              : {
                  sql: `INSERT INTO ${table} (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`,
                  args: [change.key, change.value],
                },
          ),
        ],
        'write',
      )
    },
  }
}

function httpSource(config: Extract<BackingConfig, { kind: 'http' }>): BackingSource {
  const base = config.url.replace(/\/$/, '')
  const headers = config.headers ?? {}
  return {
    async get(key) {
      const response = await fetch(`${base}/${encodeURIComponent(key)}`, {
        headers,
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      if (response.status === 404) {
        await response.body?.cancel()
        return null
      }
      if (!response.ok) throw new Error(`origin answered ${response.status}`)
      return response.text()
    },
    async write(changes) {
      const response = await fetch(base, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({ changes }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      })
      await response.body?.cancel()
      if (!response.ok) throw new Error(`origin answered ${response.status}`)
    },
  }
}

/**
 * The libSQL port: a `@libsql/client/web` client and drizzle instance from `LIBSQL_URL` /
 * `LIBSQL_AUTH_TOKEN`. A client is only a URL and a fetch function, so one is made per
 * call: Workers forbid sharing I/O objects between requests, and this never does. In
 * production the URL names Turso or sqld; locally the project's own server (apps/libsql).
 * Every query through it is parameterized.
 */
import { type Client, createClient } from '@libsql/client/web'
import type { LibSQLDatabase } from 'drizzle-orm/libsql'
import { drizzle } from 'drizzle-orm/libsql/web'
import * as tables from '../../schemas/db/platform'
import { readConfig } from './config'
import type { Env } from './env'
import { recordLibsqlRequest } from './runtime-metrics'

export type Database = LibSQLDatabase<typeof tables> & { $client: Client }

/** Each Hrana request (one pipeline of statements) timed for `/metrics`. */
async function timedFetch(input: Request | string | URL, init?: RequestInit): Promise<Response> {
  const started = performance.now()
  let outcome: 'ok' | 'error' = 'error'
  try {
    const response = await fetch(input, init)
    if (response.ok) outcome = 'ok'
    return response
  } finally {
    recordLibsqlRequest(outcome, (performance.now() - started) / 1000)
  }
}

export function database(env: Env): Database {
  const { libsqlUrl, libsqlAuthToken } = readConfig(env)
  const client = createClient({
    url: libsqlUrl,
    ...(libsqlAuthToken ? { authToken: libsqlAuthToken } : {}),
    fetch: timedFetch,
  })
  return drizzle(client, { schema: tables }) as Database
}

export { tables }

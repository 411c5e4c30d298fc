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

export type Database = LibSQLDatabase<typeof tables> & { $client: Client }

export function database(env: Env): Database {
  const { libsqlUrl, libsqlAuthToken } = readConfig(env)
  const client = createClient({ url: libsqlUrl, ...(libsqlAuthToken ? { authToken: libsqlAuthToken } : {}) })
  return drizzle(client, { schema: tables }) as Database
}

export { tables }

/**
 * Applies the drizzle-kit migrations in `migrations/` to the libSQL database that
 * `LIBSQL_URL` names (`npm run db:migrate`). Also used by `npm run dev` and the test setup.
 */
import { fileURLToPath } from 'node:url'
import { createClient } from '@libsql/client'
import { drizzle } from 'drizzle-orm/libsql'
import { migrate } from 'drizzle-orm/libsql/migrator'

export const MIGRATIONS_FOLDER = fileURLToPath(new URL('../migrations', import.meta.url))

export async function migrateDatabase(url: string, authToken?: string): Promise<void> {
  const client = createClient({ url, ...(authToken ? { authToken } : {}) })
  try {
    await migrate(drizzle(client), { migrationsFolder: MIGRATIONS_FOLDER })
  } finally {
    client.close()
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const url = process.env.LIBSQL_URL ?? 'http://127.0.0.1:8080'
  await migrateDatabase(url, process.env.LIBSQL_AUTH_TOKEN)
  console.log(`migrated ${url}`)
}

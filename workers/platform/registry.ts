/**
 * The resource registry: named resources of a kind (`queue`, `topic`, `ratelimit-policy`…)
 * per tenant, in libSQL. Every block lists, creates and deletes its resources here.
 *
 * Guarantees: (tenant, kind, name) is unique (409 on a duplicate create); every read and
 * write is scoped by tenant; `update` with `ifVersion` is a compare-and-set; lists are
 * ordered by name and paginated with an opaque cursor.
 */
import { and, asc, eq, gt, sql } from 'drizzle-orm'
import { isHeaderSafeText } from '../../schemas/text'
import { database, tables } from './db'
import { base64urlToText, textToBase64url } from './encoding'
import type { Env } from './env'
import { AppError } from './errors'

export interface Resource<Config> {
  kind: string
  name: string
  config: Config
  version: number
  /** Milliseconds since the epoch. */
  createdAt: number
  updatedAt: number
}

export interface Page<T> {
  items: T[]
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string
}

const { resources } = tables

function toResource<Config>(row: typeof resources.$inferSelect): Resource<Config> {
  return {
    kind: row.kind,
    name: row.name,
    config: JSON.parse(row.config) as Config,
    version: row.version,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  }
}

/** The longest position a cursor may carry (a resource name, or a block's small JSON key). */
const MAX_CURSOR_POSITION = 512

/** An opaque cursor for a position in a listing. */
export function encodeCursor(position: string): string {
  return textToBase64url(position)
}

/**
 * The position inside a cursor, or a 400: a cursor must be base64url of well-formed UTF-8
 * text without control characters (every position this API issues is), so nothing a client
 * forges (a NUL, a lone surrogate, binary) reaches storage as a query parameter.
 */
export function decodeCursor(cursor: string): string {
  const position = base64urlToText(cursor)
  if (position === undefined || position.length > MAX_CURSOR_POSITION || !isHeaderSafeText(position)) {
    throw new AppError('validation_failed', 'The cursor is not one this API issued.', {
      errors: [{ path: 'query/cursor', message: 'Invalid cursor' }],
    })
  }
  return position
}

export async function createResource<Config>(
  env: Env,
  tenant: string,
  kind: string,
  name: string,
  config: Config,
  now = Date.now(),
): Promise<Resource<Config>> {
  const db = database(env)
  const inserted = await db
    .insert(resources)
    .values({
      tenant,
      kind,
      name,
      config: JSON.stringify(config),
      version: 1,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing()
    .returning()
  const row = inserted[0]
  if (!row) throw new AppError('conflict', `A ${kind} named "${name}" already exists.`)
  return toResource<Config>(row)
}

export async function findResource<Config>(
  env: Env,
  tenant: string,
  kind: string,
  name: string,
): Promise<Resource<Config> | undefined> {
  const rows = await database(env)
    .select()
    .from(resources)
    .where(and(eq(resources.tenant, tenant), eq(resources.kind, kind), eq(resources.name, name)))
    .limit(1)
  return rows[0] ? toResource<Config>(rows[0]) : undefined
}

export async function getResource<Config>(
  env: Env,
  tenant: string,
  kind: string,
  name: string,
): Promise<Resource<Config>> {
  const found = await findResource<Config>(env, tenant, kind, name)
  if (!found) throw new AppError('not_found', `No ${kind} named "${name}".`)
  return found
}

export async function listResources<Config>(
  env: Env,
  tenant: string,
  kind: string,
  options: { limit: number; cursor?: string | undefined },
): Promise<Page<Resource<Config>>> {
  const after = options.cursor ? decodeCursor(options.cursor) : undefined
  const rows = await database(env)
    .select()
    .from(resources)
    .where(
      and(
        eq(resources.tenant, tenant),
        eq(resources.kind, kind),
        after !== undefined ? gt(resources.name, after) : undefined,
      ),
    )
    .orderBy(asc(resources.name))
    .limit(options.limit + 1)
  const items = rows
    .slice(0, options.limit)
    .map((row: typeof resources.$inferSelect) => toResource<Config>(row))
  const last = items.at(-1)
  return rows.length > options.limit && last ? { items, nextCursor: encodeCursor(last.name) } : { items }
}

export async function updateResource<Config>(
  env: Env,
  tenant: string,
  kind: string,
  name: string,
  config: Config,
  options: { ifVersion?: number; now?: number } = {},
): Promise<Resource<Config>> {
  const updated = await database(env)
    .update(resources)
    .set({
      config: JSON.stringify(config),
      version: sql`${resources.version} + 1`,
      updatedAt: options.now ?? Date.now(),
    })
    .where(
      and(
        eq(resources.tenant, tenant),
        eq(resources.kind, kind),
        eq(resources.name, name),
        options.ifVersion !== undefined ? eq(resources.version, options.ifVersion) : undefined,
      ),
    )
    .returning()
  const row = updated[0]
  if (row) return toResource<Config>(row)
  await getResource(env, tenant, kind, name)
  throw new AppError(
    'precondition_failed',
    `The ${kind} "${name}" changed since version ${options.ifVersion}.`,
  )
}

export async function deleteResource(env: Env, tenant: string, kind: string, name: string): Promise<void> {
  const deleted = await database(env)
    .delete(resources)
    .where(and(eq(resources.tenant, tenant), eq(resources.kind, kind), eq(resources.name, name)))
    .returning({ name: resources.name })
  if (deleted.length === 0) throw new AppError('not_found', `No ${kind} named "${name}".`)
}

/** The control plane's tables in libSQL: tenants, the resource registry, issued and revoked tokens. */
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from 'drizzle-orm/sqlite-core'

export const tenants = sqliteTable('tenants', {
  id: text('id').primaryKey(),
  createdAt: integer('created_at').notNull(),
})

/** A named resource of a block (a queue, a topic, a rate-limit policy...) owned by a tenant. */
export const resources = sqliteTable(
  'resources',
  {
    tenant: text('tenant').notNull(),
    kind: text('kind').notNull(),
    name: text('name').notNull(),
    /** The block's settings for this resource, as JSON. */
    config: text('config').notNull(),
    /** Incremented on every update; used for optimistic concurrency. */
    version: integer('version').notNull().default(1),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [uniqueIndex('resources_tenant_kind_name').on(t.tenant, t.kind, t.name)],
)

/** Revoked token ids; a row lives until the token would have expired anyway. */
export const tokenRevocations = sqliteTable(
  'token_revocations',
  {
    tenant: text('tenant').notNull(),
    tokenId: text('token_id').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.tokenId] }), index('token_revocations_expiry').on(t.expiresAt)],
)

/**
 * Token ids minted by `POST /v1/tokens`, with their expiry: only these can be revoked, so a
 * tenant cannot grow the revocation table with made-up ids. A row lives until the token expires.
 */
export const issuedTokens = sqliteTable(
  'issued_tokens',
  {
    tenant: text('tenant').notNull(),
    tokenId: text('token_id').notNull(),
    /** Seconds since the epoch. */
    expiresAt: integer('expires_at').notNull(),
    issuedAt: integer('issued_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.tenant, t.tokenId] }), index('issued_tokens_expiry').on(t.expiresAt)],
)

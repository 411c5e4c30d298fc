/**
 * One storage node's side of the key-value store: its tables and every statement run on
 * it, each operation one `batch` (one transaction, one round trip).
 *
 * Tables (created on first contact, idempotently): `kv_versions` holds every surviving
 * version of every key (siblings are rows), with the key's Merkle bucket and a 32-bit
 * digest of (key, version id) for anti-entropy; `kv_dots` holds, per key, the last counter
 * this node allocated as a write coordinator, so dots are unique per (node, key).
 *
 * Guarantees: `store` and `coordinate` leave exactly `reconcile(existing ∪ incoming)` on
 * the node (the same rule as versions.ts, written in SQL so it is atomic on the node);
 * `coordinate` allocates a fresh dot greater than any the context names for this node.
 */
import type { Client, InStatement, Row } from '@libsql/client/web'
import { hash32 } from '../platform/hashing'
import type { ConflictPolicy, Version } from './versions'

/** Merkle leaves per namespace: a key's bucket is the top 10 bits of its hash. */
export const BUCKET_BITS = 10
export const BUCKETS = 1 << BUCKET_BITS

export function bucketOf(key: string): number {
  return hash32(key) >>> (32 - BUCKET_BITS)
}

/**
 * A version's 32-bit digest from its key and dot: (h(key) + 31·h(node) + counter·2654435761)
 * mod 2^32, simple enough for SQL to compute when the counter is allocated on the node.
 */
export function digestOf(key: string, node: string, counter: number): number {
  const sum = BigInt(hash32(key)) + BigInt(hash32(node)) * 31n + BigInt(counter) * 2654435761n
  return Number(sum % 4294967296n)
}

const SCHEMA = [
  `CREATE TABLE IF NOT EXISTS kv_versions (
     ns TEXT NOT NULL, key TEXT NOT NULL, id TEXT NOT NULL, node TEXT NOT NULL, counter INTEGER NOT NULL,
     context TEXT NOT NULL, hlc TEXT NOT NULL, deleted INTEGER NOT NULL, value BLOB, content_type TEXT NOT NULL,
     metadata TEXT, expires_at INTEGER, bucket INTEGER NOT NULL, digest INTEGER NOT NULL, written_at INTEGER NOT NULL,
     PRIMARY KEY (ns, key, id)) WITHOUT ROWID`,
  'CREATE INDEX IF NOT EXISTS kv_versions_bucket ON kv_versions (ns, bucket)',
  `CREATE TABLE IF NOT EXISTS kv_dots (ns TEXT NOT NULL, key TEXT NOT NULL, counter INTEGER NOT NULL,
     PRIMARY KEY (ns, key)) WITHOUT ROWID`,
]

export const COLUMNS =
  'key, id, node, counter, context, hlc, deleted, value, content_type, metadata, expires_at, written_at'

const initialized = new Set<string>()

/** Creates the tables on a node once per isolate (they survive restarts of the node). */
export async function ensureSchema(client: Client, nodeId: string): Promise<void> {
  if (initialized.has(nodeId)) return
  await client.batch(SCHEMA, 'write')
  initialized.add(nodeId)
}

export function rowToVersion(row: Row): Version & { key: string } {
  const value = row.value
  return {
    key: String(row.key),
    id: String(row.id),
    node: String(row.node),
    counter: Number(row.counter),
    context: JSON.parse(String(row.context)),
    hlc: String(row.hlc),
    deleted: Number(row.deleted) === 1,
    value: value === null || value === undefined ? null : new Uint8Array(value as ArrayBuffer),
    contentType: String(row.content_type),
    metadata: row.metadata === null ? null : String(row.metadata),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
  }
}

export function insertVersion(ns: string, key: string, version: Version, now: number): InStatement {
  return {
    sql: `INSERT OR IGNORE INTO kv_versions (ns, ${COLUMNS}, bucket, digest)
          VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    args: [
      ns,
      key,
      version.id,
      version.node,
      version.counter,
      JSON.stringify(version.context),
      version.hlc,
      version.deleted ? 1 : 0,
      version.value,
      version.contentType,
      version.metadata,
      version.expiresAt,
      now,
      bucketOf(key),
      digestOf(key, version.node, version.counter),
    ],
  }
}

/** Deletes the key's versions another version supersedes (covered dot; LWW loser). */
export function pruneStatements(ns: string, key: string, policy: ConflictPolicy): InStatement[] {
  const statements: InStatement[] = [
    {
      sql: `DELETE FROM kv_versions AS a WHERE a.ns = ? AND a.key = ? AND EXISTS (
              SELECT 1 FROM kv_versions AS b, json_each(b.context) AS j
              WHERE b.ns = a.ns AND b.key = a.key AND b.id <> a.id AND j.key = a.node AND j.value >= a.counter)`,
      args: [ns, key],
    },
  ]
  if (policy === 'lww') {
    statements.push({
      sql: `DELETE FROM kv_versions AS a WHERE a.ns = ? AND a.key = ? AND EXISTS (
              SELECT 1 FROM kv_versions AS b WHERE b.ns = a.ns AND b.key = a.key
              AND (b.hlc > a.hlc OR (b.hlc = a.hlc AND b.id > a.id)))`,
      args: [ns, key],
    })
  }
  return statements
}

const selectKey = (ns: string, key: string): InStatement => ({
  sql: `SELECT ${COLUMNS} FROM kv_versions WHERE ns = ? AND key = ? ORDER BY id`,
  args: [ns, key],
})

/** The key's versions on this node. */
export async function readVersions(client: Client, ns: string, key: string): Promise<Version[]> {
  const result = await client.execute(selectKey(ns, key))
  return result.rows.map(rowToVersion)
}

/** Merges `incoming` into the node's versions of the key; returns what survives there. */
export async function storeVersions(
  client: Client,
  ns: string,
  key: string,
  incoming: Version[],
  policy: ConflictPolicy,
  now: number,
): Promise<Version[]> {
  const statements = [
    ...incoming.map((version) => insertVersion(ns, key, version, now)),
    ...pruneStatements(ns, key, policy),
    selectKey(ns, key),
  ]
  const results = await client.batch(statements, 'write')
  return (results.at(-1)?.rows ?? []).map(rowToVersion)
}

/**
 * The coordinating write: allocates this node's next dot for the key (above `contextCounter`,
 * the counter the writer's context holds for this node), stores `draft` under it, prunes.
 */
export async function coordinateWrite(
  client: Client,
  nodeId: string,
  ns: string,
  key: string,
  draft: Omit<Version, 'id' | 'node' | 'counter'>,
  contextCounter: number,
  policy: ConflictPolicy,
  now: number,
): Promise<{ version: Version; survivors: Version[] }> {
  const statements: InStatement[] = [
    {
      sql: `INSERT INTO kv_dots (ns, key, counter) VALUES (?, ?, ?)
            ON CONFLICT (ns, key) DO UPDATE SET counter = max(counter + 1, excluded.counter)`,
      args: [ns, key, contextCounter + 1],
    },
    {
      sql: `INSERT INTO kv_versions (ns, ${COLUMNS}, bucket, digest)
            SELECT ?, ?, ? || d.counter, ?, d.counter, ?, ?, ?, ?, ?, ?, ?, ?, ?,
                   (? + ? * 31 + d.counter * 2654435761) % 4294967296
            FROM kv_dots AS d WHERE d.ns = ? AND d.key = ?`,
      args: [
        ns,
        key,
        `${nodeId}:`,
        nodeId,
        JSON.stringify(draft.context),
        draft.hlc,
        draft.deleted ? 1 : 0,
        draft.value,
        draft.contentType,
        draft.metadata,
        draft.expiresAt,
        now,
        bucketOf(key),
        hash32(key),
        hash32(nodeId),
        ns,
        key,
      ],
    },
    ...pruneStatements(ns, key, policy),
    { sql: 'SELECT counter FROM kv_dots WHERE ns = ? AND key = ?', args: [ns, key] },
    selectKey(ns, key),
  ]
  const results = await client.batch(statements, 'write')
  const counter = Number(results.at(-2)?.rows[0]?.counter)
  const version: Version = { ...draft, id: `${nodeId}:${counter}`, node: nodeId, counter }
  return { version, survivors: (results.at(-1)?.rows ?? []).map(rowToVersion) }
}

/** Removes one version a fallback held for a home node once the home has it. */
export async function dropVersion(client: Client, ns: string, key: string, id: string): Promise<void> {
  await client.execute({
    sql: 'DELETE FROM kv_versions WHERE ns = ? AND key = ? AND id = ?',
    args: [ns, key, id],
  })
}

/**
 * A storage node's range statements: listings, Merkle leaves, bucket scans (headers
 * without values, then values by id), batched merges, purging. Each is one round trip.
 */
import type { Client, InStatement } from '@libsql/client/web'
import { COLUMNS, insertVersion, pruneStatements, rowToVersion } from './replica'
import type { ConflictPolicy, Version } from './versions'

/** The versions of the first `limit` keys after `after` that start with `prefix`, in key order. */
export async function listVersions(
  client: Client,
  ns: string,
  prefix: string,
  after: string,
  limit: number,
): Promise<Array<Version & { key: string }>> {
  const result = await client.execute({
    sql: `SELECT ${COLUMNS} FROM kv_versions WHERE ns = ? AND key IN (
            SELECT DISTINCT key FROM kv_versions WHERE ns = ? AND key > ? AND key >= ? AND substr(key, 1, ?) = ?
            ORDER BY key LIMIT ?)
          ORDER BY key, id`,
    args: [ns, ns, after, prefix, prefix.length, prefix, limit],
  })
  return result.rows.map(rowToVersion)
}

/** The namespace's Merkle leaves on this node: versions and digest sum per non-empty bucket. */
export async function leafDigests(client: Client, ns: string) {
  const result = await client.execute({
    sql: 'SELECT bucket, count(*) AS n, sum(digest) % 4294967296 AS s FROM kv_versions WHERE ns = ? GROUP BY bucket',
    args: [ns],
  })
  return result.rows.map((row) => ({ bucket: Number(row.bucket), count: Number(row.n), sum: Number(row.s) }))
}

/** Every version in the given buckets. */
export async function bucketVersions(client: Client, ns: string, buckets: number[]) {
  const result = await client.execute({
    sql: `SELECT ${COLUMNS} FROM kv_versions WHERE ns = ? AND bucket IN (SELECT value FROM json_each(?)) ORDER BY key, id`,
    args: [ns, JSON.stringify(buckets)],
  })
  return result.rows.map(rowToVersion)
}

/** Purges tombstones written before `tombstonesBefore` and versions expired before `expiredBefore`. */
export async function purge(client: Client, ns: string, tombstonesBefore: number, expiredBefore: number) {
  const result = await client.execute({
    sql: `DELETE FROM kv_versions WHERE ns = ? AND ((deleted = 1 AND written_at < ?) OR (expires_at IS NOT NULL AND expires_at < ?))`,
    args: [ns, tombstonesBefore, expiredBefore],
  })
  return result.rowsAffected
}

/** Removes every row of a namespace (after it was deleted). */
export async function dropNamespace(client: Client, ns: string): Promise<void> {
  await client.batch(
    [
      { sql: 'DELETE FROM kv_versions WHERE ns = ?', args: [ns] },
      { sql: 'DELETE FROM kv_dots WHERE ns = ?', args: [ns] },
    ],
    'write',
  )
}

/** The (key, version id) pairs in the given buckets: what anti-entropy compares. */
export async function bucketIds(client: Client, ns: string, buckets: number[]) {
  const result = await client.execute({
    sql: 'SELECT key, id FROM kv_versions WHERE ns = ? AND bucket IN (SELECT value FROM json_each(?)) ORDER BY key, id',
    args: [ns, JSON.stringify(buckets)],
  })
  return result.rows.map((row) => ({ key: String(row.key), id: String(row.id) }))
}

/** Full versions by (key, id). */
export async function versionsByRef(client: Client, ns: string, refs: Array<{ key: string; id: string }>) {
  const result = await client.execute({
    sql: `SELECT ${COLUMNS} FROM kv_versions WHERE ns = ? AND (key, id) IN (
            SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?))`,
    args: [ns, JSON.stringify(refs.map((ref) => [ref.key, ref.id]))],
  })
  return result.rows.map(rowToVersion)
}

/** Merges many keys' versions in one transaction (as `storeVersions` does per key). */
export async function storeMany(
  client: Client,
  ns: string,
  items: Array<{ key: string; versions: Version[] }>,
  policy: ConflictPolicy,
  now: number,
): Promise<void> {
  const statements: InStatement[] = []
  for (const item of items) {
    for (const version of item.versions) statements.push(insertVersion(ns, item.key, version, now))
    statements.push(...pruneStatements(ns, item.key, policy))
  }
  if (statements.length > 0) await client.batch(statements, 'write')
}

/** Anti-entropy's port over the nodes of a namespace, given a way to reach a node. */
export function antiEntropyPort(
  connectTo: (node: string) => Promise<Client>,
  ns: string,
  policy: ConflictPolicy,
  now: number,
) {
  return {
    leaves: async (node: string) => leafDigests(await connectTo(node), ns),
    ids: async (node: string, buckets: number[]) => bucketIds(await connectTo(node), ns, buckets),
    fetch: async (node: string, refs: Array<{ key: string; id: string }>) =>
      versionsByRef(await connectTo(node), ns, refs),
    storeMany: async (node: string, items: Array<{ key: string; versions: Version[] }>) =>
      storeMany(await connectTo(node), ns, items, policy, now),
    purge: async (node: string, tombstonesBefore: number, expiredBefore: number) =>
      purge(await connectTo(node), ns, tombstonesBefore, expiredBefore),
  }
}

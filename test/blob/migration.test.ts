/**
 * A bucket stored in schema version 1 (its own `blobs` table: sha256 → storage key, count)
 * is taken to version 2 when its object starts: every version and part then holds its blob
 * in the tenant's content store, objects read back byte for byte, a duplicate of bytes the
 * store already had is deleted, and an unreferenced legacy blob is collected after the grace
 * period like any other.
 */
import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { GC_GRACE_MS } from '../../workers/blob/content'
import { bucketName, s3, tenantWithKey } from './support'

const hex = async (text: string) =>
  Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(text))), (b) =>
    b.toString(16).padStart(2, '0'),
  ).join('')

const PART_ETAG = `"${'0'.repeat(32)}"`

const VERSION_1 = [
  `CREATE TABLE objects (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, version_id TEXT NOT NULL,
    latest INTEGER NOT NULL, delete_marker INTEGER NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL,
    last_modified INTEGER NOT NULL, attributes TEXT NOT NULL, segments TEXT NOT NULL, parts_count INTEGER)`,
  `CREATE TABLE blobs (hash TEXT PRIMARY KEY, storage_key TEXT NOT NULL,
    size INTEGER NOT NULL, refs INTEGER NOT NULL, zero_since INTEGER)`,
  `CREATE INDEX blobs_zero ON blobs (zero_since) WHERE zero_since IS NOT NULL`,
  `CREATE TABLE uploads (upload_id TEXT PRIMARY KEY, key TEXT NOT NULL,
    initiated INTEGER NOT NULL, attributes TEXT NOT NULL, checksum_algorithm TEXT)`,
  `CREATE TABLE parts (upload_id TEXT NOT NULL, part_number INTEGER NOT NULL,
    hash TEXT NOT NULL, size INTEGER NOT NULL, etag TEXT NOT NULL, checksum TEXT, last_modified INTEGER NOT NULL,
    PRIMARY KEY (upload_id, part_number))`,
]

describe('schema version 1 → 2', () => {
  it('hands a bucket’s own blobs over to the tenant’s content store', async () => {
    const { tenant, keys } = await tenantWithKey()
    const [bucket, other] = [bucketName(), bucketName()]
    for (const name of [bucket, other]) await s3(keys, `/${name}`, { method: 'PUT' })
    // The tenant's store already has "shared bytes" (from another bucket).
    await s3(keys, `/${other}/first`, { method: 'PUT', body: 'shared bytes' })
    const store = env.BLOBS as R2Bucket
    const prefix = `blob/${tenant}/${bucket}/legacy-`
    await store.put(`${prefix}a`, 'legacy bytes')
    await store.put(`${prefix}b`, 'shared bytes')
    await store.put(`${prefix}c`, 'orphan bytes')
    const [a, b, c] = (await Promise.all(['legacy bytes', 'shared bytes', 'orphan bytes'].map(hex))) as [
      string,
      string,
      string,
    ]
    const attributes = JSON.stringify({ contentType: 'text/plain', headers: {}, meta: {}, tags: {} })
    const stub = env.BLOB_BUCKETS.get(env.BLOB_BUCKETS.idFromName(`${tenant}:blob:${bucket}`))
    await runInDurableObject(stub, (_instance, state) => {
      const sql = state.storage.sql
      for (const table of ['objects', 'parts', 'uploads', 'releases']) sql.exec(`DROP TABLE ${table}`)
      sql.exec("DELETE FROM meta WHERE k = 'schema_version'")
      for (const statement of VERSION_1) sql.exec(statement)
      const object = (key: string, hash: string) =>
        sql.exec(
          `INSERT INTO objects (key, version_id, latest, delete_marker, size, etag, last_modified, attributes, segments, parts_count)
           VALUES (?, 'null', 1, 0, 12, '"e"', 0, ?, ?, NULL)`,
          key,
          attributes,
          JSON.stringify([{ hash, size: 12 }]),
        )
      object('one', a)
      object('two', a)
      object('shared', b)
      sql.exec(
        "INSERT INTO uploads (upload_id, key, initiated, attributes, checksum_algorithm) VALUES ('u1', 'mp', 0, ?, NULL)",
        attributes,
      )
      sql.exec(
        `INSERT INTO parts (upload_id, part_number, hash, size, etag, checksum, last_modified) VALUES ('u1', 1, ?, 12, ?, NULL, 0)`,
        a,
        PART_ETAG,
      )
      for (const [hash, key, refs] of [
        [a, `${prefix}a`, 3],
        [b, `${prefix}b`, 1],
        [c, `${prefix}c`, 0],
      ] as const)
        sql.exec(
          'INSERT INTO blobs (hash, storage_key, size, refs, zero_since) VALUES (?, ?, 12, ?, ?)',
          hash,
          key,
          refs,
          refs ? null : 0,
        )
    })
    await evictDurableObject(stub)
    for (const key of ['one', 'two'])
      expect(await (await s3(keys, `/${bucket}/${key}`)).text()).toBe('legacy bytes')
    expect(await (await s3(keys, `/${bucket}/shared`)).text()).toBe('shared bytes')
    await runInDurableObject(stub, (_instance, state) => {
      const version = state.storage.sql
        .exec<{ v: string }>("SELECT v FROM meta WHERE k = 'schema_version'")
        .one()
      expect(version.v).toBe('2')
      const tables = state.storage.sql
        .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE '%blobs'")
        .toArray()
      expect(tables).toEqual([])
    })
    const content = env.BLOB_CONTENT.get(env.BLOB_CONTENT.idFromName(`${tenant}:blob-content:store`))
    const blobs = Object.fromEntries((await content.blobs()).map((blob) => [blob.hash, blob]))
    expect(blobs[a]).toMatchObject({ storageKey: `${prefix}a`, refs: 3 })
    // The store's copy of the shared bytes stays; the bucket's duplicate is gone.
    expect(blobs[b]?.refs).toBe(2)
    expect(await store.head(`${prefix}b`)).toBeNull()
    expect(blobs[c]?.refs).toBe(0)
    await content.advanceClockForTest(GC_GRACE_MS + 1000)
    expect(await content.collectGarbage()).toBe(1)
    expect(await store.head(`${prefix}c`)).toBeNull()
    // The legacy multipart upload completes from its held part.
    const parts = await s3(keys, `/${bucket}/mp`, { query: { uploadId: 'u1' } })
    expect(await parts.text()).toContain('<PartNumber>1</PartNumber>')
    const xml = `<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>${PART_ETAG}</ETag></Part></CompleteMultipartUpload>`
    expect(
      (await s3(keys, `/${bucket}/mp`, { method: 'POST', query: { uploadId: 'u1' }, body: xml })).status,
    ).toBe(200)
    expect(await (await s3(keys, `/${bucket}/mp`)).text()).toBe('legacy bytes')
  })
})

/**
 * Writes as Meilisearch tasks. Each write runs inside the request (so a small batch is
 * searchable when the response arrives) and is then recorded in the tenant's task log
 * with its outcome; failures a Meilisearch task reports (bad ids, primary key problems, a
 * missing index) become failed tasks, and a batch is checked as a whole before any shard
 * is touched, so a failed task changed nothing.
 */
import type { Env } from '../platform/env'
import { MeiliError } from './errors'
import {
  allShards,
  changeIndex,
  createIndex,
  deleteIndex,
  ensureIndex,
  getIndex,
  type SearchIndex,
  shardStub,
  tasksStub,
} from './indexes'
import { byShard, choosePrimaryKey, documentId, MAX_DOCUMENT_BYTES, prepareBatch } from './logic/documents'
import type { Document } from './logic/fields'
import type { FilterInput } from './logic/filter-parse'
import { checkedFilter } from './logic/request'
import { applySettings, type SettingsPatch } from './logic/settings'
import type { TaskType, TaskView } from './tasks'

export interface EnqueuedTaskView {
  taskUid: number
  indexUid: string | null
  status: TaskView['status']
  type: TaskType
  enqueuedAt: string
}

async function runTask(
  env: Env,
  tenant: string,
  indexUid: string | null,
  type: TaskType,
  details: Record<string, unknown>,
  work: (details: Record<string, unknown>) => Promise<void>,
): Promise<EnqueuedTaskView> {
  const enqueuedAt = Date.now()
  let error: MeiliError | undefined
  try {
    await work(details)
  } catch (thrown) {
    if (!(thrown instanceof MeiliError)) throw thrown
    error = thrown
  }
  const task = await tasksStub(env, tenant).record({
    indexUid,
    status: error ? 'failed' : 'succeeded',
    type,
    details,
    error: error ? error.body() : null,
    enqueuedAt,
    startedAt: enqueuedAt,
    finishedAt: Date.now(),
  })
  return { taskUid: task.uid, indexUid, status: task.status, type, enqueuedAt: task.enqueuedAt }
}

/** Refuses single documents over the size limit before anything happens (413). */
export function checkDocumentSizes(documents: Document[]): void {
  documents.forEach((document, i) => {
    const bytes = new TextEncoder().encode(JSON.stringify(document)).length
    if (bytes > MAX_DOCUMENT_BYTES) {
      throw new MeiliError(
        'payload_too_large',
        `Document ${i} is ${bytes} bytes; a document may hold at most ${MAX_DOCUMENT_BYTES} bytes.`,
      )
    }
  })
}

export function addDocuments(
  env: Env,
  tenant: string,
  uid: string,
  documents: Document[],
  mode: 'replace' | 'update',
  primaryKey: string | undefined,
) {
  return runTask(
    env,
    tenant,
    uid,
    'documentAdditionOrUpdate',
    { receivedDocuments: documents.length, indexedDocuments: 0 },
    async (details) => {
      let { index } = await ensureIndex(env, tenant, uid)
      const key = choosePrimaryKey(documents, index.config.primaryKey, primaryKey)
      const prepared = prepareBatch(documents, key)
      if (index.config.primaryKey !== key) {
        index = await changeIndex(env, tenant, uid, (config) => ({
          ...config,
          primaryKey: config.primaryKey ?? key,
        }))
      }
      const groups = byShard(prepared, index.config.shards)
      await Promise.all(
        groups.map((group, shard) =>
          group.length > 0 ? shardStub(env, tenant, uid, shard).write({ mode, documents: group }) : undefined,
        ),
      )
      details.indexedDocuments = prepared.length
    },
  )
}

export function deleteDocuments(env: Env, tenant: string, uid: string, ids: Array<string | number>) {
  return runTask(
    env,
    tenant,
    uid,
    'documentDeletion',
    { providedIds: ids.length, deletedDocuments: 0 },
    async (details) => {
      const index = await getIndex(env, tenant, uid)
      const valid = ids.map((id) => ({ id: documentId(id) }))
      const groups = byShard(valid, index.config.shards)
      const results = await Promise.all(
        groups.map((group, shard) =>
          shardStub(env, tenant, uid, shard).deleteIds(group.map((item) => item.id)),
        ),
      )
      details.deletedDocuments = results.reduce((sum, result) => sum + result.deleted, 0)
    },
  )
}

/** The filter is checked first (400 `invalid_document_filter`, nothing enqueued). */
export async function deleteByFilter(env: Env, tenant: string, uid: string, filter: FilterInput) {
  const index = await getIndex(env, tenant, uid)
  const tree = checkedFilter(filter, index.config.settings, 'invalid_document_filter')
  if (!tree) throw new MeiliError('missing_document_filter', 'Missing field `filter`.')
  return runTask(
    env,
    tenant,
    uid,
    'documentDeletion',
    { providedIds: 0, originalFilter: JSON.stringify(filter), deletedDocuments: 0 },
    async (details) => {
      const results = await Promise.all(allShards(env, tenant, index).map((shard) => shard.deleteWhere(tree)))
      details.deletedDocuments = results.reduce((sum, result) => sum + result.deleted, 0)
    },
  )
}

export function clearDocuments(env: Env, tenant: string, uid: string) {
  return runTask(
    env,
    tenant,
    uid,
    'documentDeletion',
    { providedIds: 0, originalFilter: null, deletedDocuments: 0 },
    async (details) => {
      const index = await getIndex(env, tenant, uid)
      const results = await Promise.all(allShards(env, tenant, index).map((shard) => shard.clear()))
      details.deletedDocuments = results.reduce((sum, result) => sum + result.deleted, 0)
    },
  )
}

export function createIndexTask(
  env: Env,
  tenant: string,
  uid: string,
  primaryKey: string | null,
  shards: number,
) {
  return runTask(env, tenant, uid, 'indexCreation', { primaryKey }, async () => {
    await createIndex(env, tenant, uid, primaryKey, shards)
  })
}

export function updateIndexTask(
  env: Env,
  tenant: string,
  uid: string,
  primaryKey: string | null | undefined,
) {
  return runTask(env, tenant, uid, 'indexUpdate', { primaryKey: primaryKey ?? null }, async () => {
    if (primaryKey === undefined || primaryKey === null) return
    const index = await getIndex(env, tenant, uid)
    if (index.config.primaryKey !== null && index.config.primaryKey !== primaryKey) {
      const counts = await Promise.all(allShards(env, tenant, index).map((shard) => shard.stats()))
      if (counts.some((count) => count.numberOfDocuments > 0)) {
        throw new MeiliError(
          'index_primary_key_already_exists',
          `Index already has a primary key: \`${index.config.primaryKey}\`.`,
        )
      }
    }
    await changeIndex(env, tenant, uid, (config) => ({ ...config, primaryKey }))
  })
}

export function deleteIndexTask(env: Env, tenant: string, uid: string) {
  return runTask(env, tenant, uid, 'indexDeletion', { deletedDocuments: 0 }, async (details) => {
    const index = await getIndex(env, tenant, uid)
    const counts = await Promise.all(allShards(env, tenant, index).map((shard) => shard.stats()))
    details.deletedDocuments = counts.reduce((sum, count) => sum + count.numberOfDocuments, 0)
    await deleteIndex(env, tenant, uid)
  })
}

export function updateSettingsTask(env: Env, tenant: string, uid: string, patch: SettingsPatch) {
  return runTask(env, tenant, uid, 'settingsUpdate', { ...patch }, async () => {
    await ensureIndex(env, tenant, uid)
    await changeIndex(env, tenant, uid, (config) => ({
      ...config,
      settings: applySettings(config.settings, patch),
    }))
  })
}

export type { SearchIndex }

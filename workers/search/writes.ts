/**
 * Writes as Meilisearch tasks. Each write runs inside the request (so a small batch is
 * searchable when the response arrives) and is then recorded in the tenant's task log
 * with its outcome; failures a Meilisearch task reports (bad ids, primary key problems, a
 * missing index) become failed tasks, and a batch is checked as a whole before any shard
 * is touched, so a failed task changed nothing. A write that leaves a shard over the
 * index's `maxShardDocuments` then grows the index (growth.ts), recorded as its own task.
 */
import type { Env } from '../platform/env'
import { MeiliError } from './errors'
import { growIndex, onLiveShards, routeByShard, shouldGrow } from './growth'
import {
  changeIndex,
  createIndex,
  deleteIndex,
  ensureIndex,
  getIndex,
  MAX_SHARDS,
  type SearchIndex,
  tasksStub,
} from './indexes'
import { choosePrimaryKey, documentId, MAX_DOCUMENT_BYTES, prepareBatch } from './logic/documents'
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

/** Grows the index one doubling (or finishes one under way) as an `indexSplit` task. */
export function growIndexTask(env: Env, tenant: string, uid: string) {
  return runTask(
    env,
    tenant,
    uid,
    'indexSplit',
    { previousShards: null, numberOfShards: null },
    async (details) => {
      const index = await getIndex(env, tenant, uid)
      if (!index.config.splitting && index.config.shards * 2 > MAX_SHARDS)
        throw new MeiliError('invalid_index_shards', `Index \`${uid}\` already has ${MAX_SHARDS} shards.`)
      const growth = await growIndex(env, tenant, uid)
      Object.assign(details, {
        previousShards: growth?.from ?? null,
        numberOfShards: growth?.to ?? null,
        movedDocuments: growth?.movedDocuments ?? 0,
      })
    },
  )
}

export async function addDocuments(
  env: Env,
  tenant: string,
  uid: string,
  documents: Document[],
  mode: 'replace' | 'update',
  primaryKey: string | undefined,
): Promise<EnqueuedTaskView> {
  let grow = false
  const task = await writeDocuments(env, tenant, uid, documents, mode, primaryKey, (index, sizes) => {
    grow = shouldGrow(index, sizes, Date.now())
  })
  if (grow) await growIndexTask(env, tenant, uid)
  return task
}

function writeDocuments(
  env: Env,
  tenant: string,
  uid: string,
  documents: Document[],
  mode: 'replace' | 'update',
  primaryKey: string | undefined,
  written: (index: SearchIndex, sizes: number[]) => void,
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
      const prepared = prepareBatch(documents, key, mode)
      if (index.config.primaryKey !== key) {
        index = await changeIndex(env, tenant, uid, (config) => ({
          ...config,
          primaryKey: config.primaryKey ?? key,
        }))
      }
      const results = await routeByShard(env, tenant, index, prepared, (shard, group, count) =>
        shard.write({ mode, count, documents: group }),
      )
      details.indexedDocuments = prepared.length
      written(
        index,
        results.map((result) => result.documents),
      )
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
      const results = await routeByShard(env, tenant, index, valid, (shard, group, count) =>
        shard.deleteIds(
          group.map((item) => item.id),
          count,
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
      const results = await onLiveShards(env, tenant, index, (shard) => shard.deleteWhere(tree))
      details.deletedDocuments = results.reduce((sum, { result }) => sum + result.deleted, 0)
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
      const results = await onLiveShards(env, tenant, index, (shard) => shard.clear())
      details.deletedDocuments = results.reduce((sum, { result }) => sum + result.deleted, 0)
    },
  )
}

export function createIndexTask(
  env: Env,
  tenant: string,
  uid: string,
  primaryKey: string | null,
  shards: number,
  maxShardDocuments?: number,
) {
  return runTask(env, tenant, uid, 'indexCreation', { primaryKey }, async () => {
    await createIndex(env, tenant, uid, primaryKey, shards, maxShardDocuments)
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
      const counts = await onLiveShards(env, tenant, index, (shard) => shard.stats())
      if (counts.some(({ result }) => result.numberOfDocuments > 0)) {
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
    const counts = await onLiveShards(env, tenant, index, (shard) => shard.stats())
    details.deletedDocuments = counts.reduce((sum, { result }) => sum + result.numberOfDocuments, 0)
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

/** Helpers for the search block's workerd tests: a tenant with a token, Meilisearch-style calls. */
import { call, tokenFor, uniqueTenant } from '../helpers'

export interface Tenant {
  tenant: string
  token: string
}

export async function newTenant(scopes = ['search:read', 'search:write']): Promise<Tenant> {
  const tenant = uniqueTenant('search')
  return { tenant, token: await tokenFor(tenant, scopes) }
}

export function meili<T = Record<string, unknown>>(
  who: Tenant,
  path: string,
  options: { method?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  return call<T>(`/v1/search${path}`, { token: who.token, ...options })
}

export interface SearchResult {
  hits: Array<Record<string, unknown>>
  estimatedTotalHits?: number
  totalHits?: number
  totalPages?: number
  facetDistribution?: Record<string, Record<string, number>>
  facetStats?: Record<string, { min: number; max: number }>
}

/** Creates an index (optionally sharded) with settings and documents; asserts each task succeeded. */
export async function seedIndex(
  who: Tenant,
  uid: string,
  documents: unknown[],
  settings: Record<string, unknown> = {},
  shards = 1,
): Promise<void> {
  const created = await meili(who, '/indexes', { body: { uid, primaryKey: 'id', shards } })
  if (created.status !== 202 || created.body.status !== 'succeeded')
    throw new Error(JSON.stringify(created.body))
  if (Object.keys(settings).length > 0) {
    const updated = await meili(who, `/indexes/${uid}/settings`, { method: 'PATCH', body: settings })
    if (updated.body.status !== 'succeeded') throw new Error(JSON.stringify(updated.body))
  }
  if (documents.length > 0) {
    const added = await meili(who, `/indexes/${uid}/documents`, { body: documents })
    if (added.body.status !== 'succeeded') {
      const task = await meili(who, `/tasks/${added.body.taskUid}`)
      throw new Error(JSON.stringify(task.body))
    }
  }
}

export async function search(who: Tenant, uid: string, params: Record<string, unknown>) {
  return meili<SearchResult>(who, `/indexes/${uid}/search`, { body: params })
}

export const ids = (result: { hits: Array<Record<string, unknown>> }) => result.hits.map((hit) => hit.id)

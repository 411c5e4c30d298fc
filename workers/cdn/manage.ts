/**
 * CDN sites in the registry (kind `cdn-site`), purges and statistics through the site's
 * object. A site's origin is a URL (refused when it points back into the platform) or a
 * load balancer of the same tenant (refused when there is none). A deleted site's stored
 * responses are hard-purged, so a new site of the same name starts empty.
 */
import type { CreateSiteInput, PurgeInput } from '../../schemas/cdn'
import { BALANCER_KIND } from '../lb/manage'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { IsolateCache } from '../platform/isolate-cache'
import { loopsBack } from '../platform/proxy'
import {
  createResource,
  deleteResource,
  findResource,
  getResource,
  listResources,
  type Resource,
  updateResource,
} from '../platform/registry'
import { objectStub } from '../platform/tenancy'
import type { PurgeKind } from './keys'

export const SITE_KIND = 'cdn-site'
const sites = new IsolateCache<Resource<CreateSiteInput> | null>(2_000)
const cacheKey = (tenant: string, name: string) => `${tenant}\n${name}`

export const siteStub = (env: Env, tenant: string, site: string) =>
  objectStub(env.CDN_SITES, tenant, SITE_KIND, site)

const view = (r: Resource<CreateSiteInput>) => ({
  name: r.name,
  version: r.version,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  settings: r.config,
})

async function checkSite(env: Env, tenant: string, input: CreateSiteInput, platformHosts: string[]) {
  if (input.originUrl && loopsBack(input.originUrl, platformHosts)) {
    throw new AppError('validation_failed', 'The request body is invalid.', {
      errors: [{ path: 'body/originUrl', message: 'The origin points back into the platform (a loop)' }],
    })
  }
  if (input.originBalancer && !(await findResource(env, tenant, BALANCER_KIND, input.originBalancer))) {
    throw new AppError('validation_failed', 'The request body is invalid.', {
      errors: [{ path: 'body/originBalancer', message: `No load balancer named "${input.originBalancer}"` }],
    })
  }
}

export async function putSite(
  env: Env,
  tenant: string,
  name: string,
  input: CreateSiteInput,
  platformHosts: string[],
) {
  await checkSite(env, tenant, input, platformHosts)
  const existing = await findResource<CreateSiteInput>(env, tenant, SITE_KIND, name)
  const resource = existing
    ? await updateResource(env, tenant, SITE_KIND, name, input, { ifVersion: existing.version })
    : await createResource(env, tenant, SITE_KIND, name, input)
  sites.delete(cacheKey(tenant, name))
  return { created: !existing, site: view(resource) }
}

export async function getSite(env: Env, tenant: string, name: string) {
  return view(await getResource<CreateSiteInput>(env, tenant, SITE_KIND, name))
}

export async function listSites(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const result = await listResources<CreateSiteInput>(env, tenant, SITE_KIND, page)
  return { ...result, items: result.items.map(view) }
}

export async function deleteSite(env: Env, tenant: string, name: string) {
  await deleteResource(env, tenant, SITE_KIND, name)
  await siteStub(env, tenant, name).forget()
  sites.delete(cacheKey(tenant, name))
}

/** The site's settings for traffic (cached per isolate for a moment); 404 when there is none. */
export async function siteSettings(env: Env, tenant: string, name: string): Promise<CreateSiteInput> {
  const key = cacheKey(tenant, name)
  const cached = sites.lookup(key)
  const found = cached
    ? cached.value
    : sites.set(key, (await findResource<CreateSiteInput>(env, tenant, SITE_KIND, name)) ?? null)
  if (!found) throw new AppError('not_found', `No CDN site named "${name}".`)
  return found.config
}

export async function purgeSite(env: Env, tenant: string, name: string, input: PurgeInput) {
  await getResource(env, tenant, SITE_KIND, name)
  const items: Array<{ kind: PurgeKind; value: string }> = [
    ...(input.everything ? [{ kind: 'everything' as const, value: '' }] : []),
    ...(input.urls ?? []).map((value) => ({ kind: 'url' as const, value })),
    ...(input.prefixes ?? []).map((value) => ({ kind: 'prefix' as const, value })),
    ...(input.tags ?? []).map((value) => ({ kind: 'tag' as const, value })),
    ...(input.hosts ?? []).map((value) => ({ kind: 'host' as const, value: value.toLowerCase() })),
  ]
  const purgeId = await siteStub(env, tenant, name).purge(items, input.soft)
  return { purgeId, soft: input.soft }
}

export async function siteStats(env: Env, tenant: string, name: string) {
  await getResource(env, tenant, SITE_KIND, name)
  return siteStub(env, tenant, name).stats()
}

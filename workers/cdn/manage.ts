/**
 * CDN sites in the registry (kind `cdn-site`), purges and statistics through the site's
 * object. A site's origin is a URL (refused when it points back into the platform) or a
 * load balancer of the same tenant (refused when there is none) or a bucket of the same
 * tenant (refused unless it exists and is public-read; traffic stops when it turns private). A deleted site's stored
 * responses are hard-purged, so a new site of the same name starts empty.
 */
import type { CreateSiteInput, PurgeInput } from '../../schemas/cdn'
import { bucketAccess } from '../blob/delivery'
import { BALANCER_KIND } from '../lb/manage'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { loopsBack } from '../platform/proxy'
import { findResource, getResource } from '../platform/registry'
import { ResourceKind } from '../platform/resource-kind'
import { objectStub } from '../platform/tenancy'
import type { PurgeKind } from './keys'

export const SITE_KIND = 'cdn-site'
/** Settings for traffic are cached per isolate for 2 s (changes made here apply at once). */
const sites = new ResourceKind<CreateSiteInput>(SITE_KIND, 'CDN site')

export const siteStub = (env: Env, tenant: string, site: string) =>
  objectStub(env.CDN_SITES, tenant, SITE_KIND, site)

async function checkSite(env: Env, tenant: string, input: CreateSiteInput, platformHosts: string[]) {
  if (input.originUrl && loopsBack(input.originUrl, platformHosts)) {
    throw new AppError('validation_failed', 'The request body is invalid.', {
      errors: [{ path: 'body/originUrl', message: 'The origin points back into the platform (a loop)' }],
    })
  }
  if (input.originBucket) {
    const access = await bucketAccess(env, tenant, input.originBucket)
    if (access !== 'public-read') {
      const message =
        access === 'missing' ? `No bucket named "${input.originBucket}"` : 'The bucket is not public-read'
      throw new AppError('validation_failed', 'The request body is invalid.', {
        errors: [{ path: 'body/originBucket', message }],
      })
    }
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
  const { created, resource } = await sites.put(env, tenant, name, input)
  return { created, site: sites.view(resource) }
}

export const getSite = (env: Env, tenant: string, name: string) => sites.get(env, tenant, name)
export const listSites = (env: Env, tenant: string, page: { limit: number; cursor?: string | undefined }) =>
  sites.list(env, tenant, page)

export async function deleteSite(env: Env, tenant: string, name: string) {
  await sites.remove(env, tenant, name)
  await siteStub(env, tenant, name).forget()
}

/** The site's settings for traffic (cached per isolate); 404 when there is none. */
export const siteSettings = (env: Env, tenant: string, name: string) => sites.settings(env, tenant, name)

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

/**
 * Load balancer management: pools (kind `lb-pool`) and balancers (kind `lb`) in the
 * registry; a pool's object receives its settings on every change. Rules across fields are
 * checked before anything is written, so a refused change (400) leaves everything as it was:
 * a positive weight somewhere, distinct origin names, no origin pointing back into the
 * platform, a hash key name where one is needed, pools that exist and are distinct.
 */
import type { CreateBalancerInput, CreatePoolInput } from '../../schemas/lb'
import type { Env } from '../platform/env'
import { AppError, type FieldError } from '../platform/errors'
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

export const POOL_KIND = 'lb-pool'
export const BALANCER_KIND = 'lb'

/** How long an isolate reuses a balancer's or pool's settings (changes made here apply at once). */
const SETTINGS_TTL_MS = 2_000
const balancers = new IsolateCache<Resource<CreateBalancerInput> | null>(SETTINGS_TTL_MS)
const pools = new IsolateCache<Resource<CreatePoolInput> | null>(SETTINGS_TTL_MS)
const cacheKey = (tenant: string, name: string) => `${tenant}\n${name}`

export const poolStub = (env: Env, tenant: string, pool: string) =>
  objectStub(env.LB_POOLS, tenant, POOL_KIND, pool)

function invalid(errors: FieldError[]): never {
  throw new AppError('validation_failed', 'The request body is invalid.', { errors })
}

/** The cross-field rules of a pool; `platformHosts` are the hosts this platform answers on. */
export function checkPool(input: CreatePoolInput, platformHosts: readonly string[]): void {
  const errors: FieldError[] = []
  const names = new Set<string>()
  input.origins.forEach((origin, i) => {
    if (names.has(origin.name))
      errors.push({ path: `body/origins/${i}/name`, message: 'Origin names must be distinct' })
    names.add(origin.name)
    if (loopsBack(origin.url, platformHosts)) {
      errors.push({
        path: `body/origins/${i}/url`,
        message: 'The origin points back into the platform (a loop)',
      })
    }
  })
  if (!input.origins.some((o) => o.enabled && o.weight > 0)) {
    errors.push({ path: 'body/origins', message: 'At least one enabled origin needs a weight above 0' })
  }
  if (input.minimumHealthy > input.origins.length) {
    errors.push({ path: 'body/minimumHealthy', message: 'More than the pool has origins' })
  }
  if (input.hashKey && input.hashKey.source !== 'ip' && !input.hashKey.name) {
    errors.push({ path: 'body/hashKey/name', message: `A ${input.hashKey.source} name is needed` })
  }
  if (errors.length > 0) invalid(errors)
}

async function checkBalancer(env: Env, tenant: string, input: CreateBalancerInput): Promise<void> {
  const errors: FieldError[] = []
  if (new Set(input.pools).size !== input.pools.length)
    errors.push({ path: 'body/pools', message: 'Pools must be distinct' })
  const named: Array<[string, string]> = input.pools.map((p, i) => [p, `body/pools/${i}`])
  if (input.fallbackPool) named.push([input.fallbackPool, 'body/fallbackPool'])
  for (const [pool, path] of named) {
    if (!(await findResource(env, tenant, POOL_KIND, pool)))
      errors.push({ path, message: `No pool named "${pool}"` })
  }
  if (errors.length > 0) invalid(errors)
}

const view = <T>(r: Resource<T>) => ({
  name: r.name,
  version: r.version,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  settings: r.config,
})

export async function putPool(
  env: Env,
  tenant: string,
  name: string,
  input: CreatePoolInput,
  platformHosts: string[],
) {
  checkPool(input, platformHosts)
  const existing = await findResource<CreatePoolInput>(env, tenant, POOL_KIND, name)
  const resource = existing
    ? await updateResource(env, tenant, POOL_KIND, name, input, { ifVersion: existing.version })
    : await createResource(env, tenant, POOL_KIND, name, input)
  await poolStub(env, tenant, name).configure(input)
  pools.delete(cacheKey(tenant, name))
  return { created: !existing, pool: view(resource) }
}

export async function getPool(env: Env, tenant: string, name: string) {
  return view(await getResource<CreatePoolInput>(env, tenant, POOL_KIND, name))
}

export async function poolHealth(env: Env, tenant: string, name: string) {
  await getResource(env, tenant, POOL_KIND, name)
  return { pool: name, ...(await poolStub(env, tenant, name).health()) }
}

export async function listPools(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const result = await listResources<CreatePoolInput>(env, tenant, POOL_KIND, page)
  return { ...result, items: result.items.map(view) }
}

export async function deletePool(env: Env, tenant: string, name: string) {
  await getResource(env, tenant, POOL_KIND, name)
  let cursor: string | undefined
  do {
    const page = await listResources<CreateBalancerInput>(env, tenant, BALANCER_KIND, { limit: 1000, cursor })
    const user = page.items.find((b) => b.config.pools.includes(name) || b.config.fallbackPool === name)
    if (user) throw new AppError('conflict', `The load balancer "${user.name}" uses the pool "${name}".`)
    cursor = page.nextCursor
  } while (cursor)
  await deleteResource(env, tenant, POOL_KIND, name)
  await poolStub(env, tenant, name).destroy()
  pools.delete(cacheKey(tenant, name))
}

export async function putBalancer(env: Env, tenant: string, name: string, input: CreateBalancerInput) {
  await checkBalancer(env, tenant, input)
  const existing = await findResource<CreateBalancerInput>(env, tenant, BALANCER_KIND, name)
  const resource = existing
    ? await updateResource(env, tenant, BALANCER_KIND, name, input, { ifVersion: existing.version })
    : await createResource(env, tenant, BALANCER_KIND, name, input)
  balancers.delete(cacheKey(tenant, name))
  return { created: !existing, balancer: view(resource) }
}

export async function getBalancer(env: Env, tenant: string, name: string) {
  return view(await getResource<CreateBalancerInput>(env, tenant, BALANCER_KIND, name))
}

export async function listBalancers(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const result = await listResources<CreateBalancerInput>(env, tenant, BALANCER_KIND, page)
  return { ...result, items: result.items.map(view) }
}

export async function deleteBalancer(env: Env, tenant: string, name: string) {
  await deleteResource(env, tenant, BALANCER_KIND, name)
  balancers.delete(cacheKey(tenant, name))
}

/** A balancer's settings for traffic, cached per isolate for a moment; 404 when there is none. */
export async function balancerSettings(env: Env, tenant: string, name: string): Promise<CreateBalancerInput> {
  const key = cacheKey(tenant, name)
  const cached = balancers.lookup(key)
  const found = cached
    ? cached.value
    : balancers.set(key, (await findResource<CreateBalancerInput>(env, tenant, BALANCER_KIND, name)) ?? null)
  if (!found) throw new AppError('not_found', `No load balancer named "${name}".`)
  return found.config
}

/** A pool's settings for traffic (the hash key), cached like a balancer's; undefined when gone. */
export async function poolSettings(
  env: Env,
  tenant: string,
  name: string,
): Promise<CreatePoolInput | undefined> {
  const key = cacheKey(tenant, name)
  const cached = pools.lookup(key)
  const found = cached
    ? cached.value
    : pools.set(key, (await findResource<CreatePoolInput>(env, tenant, POOL_KIND, name)) ?? null)
  return found?.config
}

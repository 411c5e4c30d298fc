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
import { loopsBack } from '../platform/proxy'
import { findResource, getResource, listResources } from '../platform/registry'
import { ResourceKind } from '../platform/resource-kind'
import { objectStub } from '../platform/tenancy'
import type { PoolMode } from './health'

export const POOL_KIND = 'lb-pool'
export const BALANCER_KIND = 'lb'

/** Settings for traffic are cached per isolate for 2 s (changes made here apply at once). */
const pools = new ResourceKind<CreatePoolInput>(POOL_KIND, 'pool')
const balancers = new ResourceKind<CreateBalancerInput>(BALANCER_KIND, 'load balancer')

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

export async function putPool(
  env: Env,
  tenant: string,
  name: string,
  input: CreatePoolInput,
  platformHosts: string[],
) {
  checkPool(input, platformHosts)
  const { created, resource } = await pools.put(env, tenant, name, input)
  await poolStub(env, tenant, name).configure(input)
  return { created, pool: pools.view(resource) }
}

export const getPool = (env: Env, tenant: string, name: string) => pools.get(env, tenant, name)
export const listPools = (env: Env, tenant: string, page: { limit: number; cursor?: string | undefined }) =>
  pools.list(env, tenant, page)

export async function poolHealth(env: Env, tenant: string, name: string) {
  await getResource(env, tenant, POOL_KIND, name)
  return { pool: name, ...(await poolStub(env, tenant, name).health()) }
}

/** Whether the tenant has a pool of this name (a registry read; other blocks name pools with it). */
export async function poolExists(env: Env, tenant: string, name: string): Promise<boolean> {
  return (await findResource(env, tenant, POOL_KIND, name)) !== undefined
}

/**
 * A pool's live serving mode for other blocks (DNS failover): `up`, `panic` (it still
 * serves, over every enabled origin) or `down`; undefined when the tenant has no such pool.
 * One call to the pool's object, no registry read.
 */
export async function poolMode(env: Env, tenant: string, name: string): Promise<PoolMode | undefined> {
  return poolStub(env, tenant, name).mode()
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
  await pools.remove(env, tenant, name)
  await poolStub(env, tenant, name).destroy()
}

export async function putBalancer(env: Env, tenant: string, name: string, input: CreateBalancerInput) {
  await checkBalancer(env, tenant, input)
  const { created, resource } = await balancers.put(env, tenant, name, input)
  return { created, balancer: balancers.view(resource) }
}

export const getBalancer = (env: Env, tenant: string, name: string) => balancers.get(env, tenant, name)
export const listBalancers = (
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) => balancers.list(env, tenant, page)
export const deleteBalancer = (env: Env, tenant: string, name: string) => balancers.remove(env, tenant, name)

/** A balancer's settings for traffic (cached per isolate); 404 when there is none. */
export const balancerSettings = (env: Env, tenant: string, name: string) =>
  balancers.settings(env, tenant, name)

/** A pool's settings for traffic (the hash key), cached likewise; undefined when gone. */
export const poolSettings = (env: Env, tenant: string, name: string) => pools.find(env, tenant, name)

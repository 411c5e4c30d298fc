/**
 * One kind of a tenant's configured resources in the registry (a load balancer pool, a CDN
 * site…) with the operations every such block repeats: create-or-replace (`PUT` semantics,
 * a compare-and-set on the version when replacing), read, list, delete, the API view, and
 * the settings the traffic path reads, cached per isolate for `ttlMs` (a change made in this
 * isolate applies at once; other isolates see it within `ttlMs`).
 */
import type { Env } from './env'
import { AppError } from './errors'
import { IsolateCache } from './isolate-cache'
import {
  createResource,
  deleteResource,
  findResource,
  getResource,
  listResources,
  type Resource,
  updateResource,
} from './registry'

export interface ResourceView<Config> {
  name: string
  version: number
  createdAt: number
  updatedAt: number
  settings: Config
}

export class ResourceKind<Config> {
  private readonly cache: IsolateCache<Resource<Config> | null>

  constructor(
    readonly kind: string,
    /** How the kind is named in a 404 detail, e.g. "load balancer". */
    private readonly label: string,
    ttlMs = 2_000,
  ) {
    this.cache = new IsolateCache(ttlMs)
  }

  view(resource: Resource<Config>): ResourceView<Config> {
    const { name, version, createdAt, updatedAt, config } = resource
    return { name, version, createdAt, updatedAt, settings: config }
  }

  /** Creates or replaces; `created` says which (201 or 200). */
  async put(env: Env, tenant: string, name: string, config: Config) {
    const existing = await findResource<Config>(env, tenant, this.kind, name)
    const resource = existing
      ? await updateResource(env, tenant, this.kind, name, config, { ifVersion: existing.version })
      : await createResource(env, tenant, this.kind, name, config)
    this.forget(tenant, name)
    return { created: !existing, resource }
  }

  async get(env: Env, tenant: string, name: string): Promise<ResourceView<Config>> {
    return this.view(await getResource<Config>(env, tenant, this.kind, name))
  }

  async list(env: Env, tenant: string, page: { limit: number; cursor?: string | undefined }) {
    const result = await listResources<Config>(env, tenant, this.kind, page)
    return { ...result, items: result.items.map((r) => this.view(r)) }
  }

  async remove(env: Env, tenant: string, name: string): Promise<void> {
    await deleteResource(env, tenant, this.kind, name)
    this.forget(tenant, name)
  }

  /** The settings for traffic, cached per isolate; undefined when there is no such resource. */
  async find(env: Env, tenant: string, name: string): Promise<Config | undefined> {
    const key = `${tenant}\n${name}`
    const cached = this.cache.lookup(key)
    const found = cached
      ? cached.value
      : this.cache.set(key, (await findResource<Config>(env, tenant, this.kind, name)) ?? null)
    return found?.config
  }

  /** Like `find`, or 404. */
  async settings(env: Env, tenant: string, name: string): Promise<Config> {
    const config = await this.find(env, tenant, name)
    if (config === undefined) throw new AppError('not_found', `No ${this.label} named "${name}".`)
    return config
  }

  forget(tenant: string, name: string): void {
    this.cache.delete(`${tenant}\n${name}`)
  }
}

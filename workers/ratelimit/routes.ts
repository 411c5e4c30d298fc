/**
 * The rate limiter's routes, mounted at `/v1/ratelimit`: policies (registry in libSQL, kind
 * `ratelimit-policy`), `POST /check` and key resets. A check answers 200 whether it admits or
 * not — the decision is the result, and a 429 here would be mistaken by HTTP clients for the
 * API itself refusing them — with the policy's `RateLimit-Policy` / `RateLimit` headers, and
 * `Retry-After` when it denies.
 */
import { Hono } from 'hono'
import { Deleted, NameParam, PageQuery } from '../../schemas/common'
import {
  CheckRequest,
  CheckResult,
  KeyParam,
  KeyReset,
  Policy,
  PolicyBody,
  PolicyList,
} from '../../schemas/ratelimit'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import {
  createResource,
  deleteResource,
  getResource,
  listResources,
  type Resource,
  updateResource,
} from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { BUCKET_ALGORITHMS, capacityOf } from './algorithms'
import { rateLimitHeaders } from './headers'
import {
  type ActivePolicy,
  checkKeys,
  findPolicy,
  forgetPolicy,
  POLICY_KIND,
  type PolicyConfig,
  resetKey,
} from './service'

const TAGS = ['ratelimit']

function policyView(resource: Resource<PolicyConfig>) {
  const { algorithm, limit, periodMs, burst, shadow } = resource.config
  return {
    name: resource.name,
    algorithm,
    limit,
    period: periodMs,
    ...(burst !== undefined ? { burst } : {}),
    shadow,
    version: resource.version,
    createdAt: resource.createdAt,
    updatedAt: resource.updatedAt,
  }
}

async function policyOrNotFound(
  env: AuthEnv['Bindings'],
  tenant: string,
  name: string,
): Promise<ActivePolicy> {
  const policy = await findPolicy(env, tenant, name)
  if (!policy) throw new AppError('not_found', `No ${POLICY_KIND} named "${name}".`)
  return policy
}

export const ratelimitRoutes = new Hono<AuthEnv>()
  .put(
    '/policies/:name',
    describe({
      tags: TAGS,
      summary: 'Create or replace a rate-limit policy',
      description:
        '`period` is milliseconds or a duration string ("500ms", "60s", "5m", "1h", "1d"); responses give it in ms. ' +
        'Changing algorithm, limit, period or burst starts every key of the policy afresh; toggling `shadow` does not.',
      scope: 'ratelimit:write',
      responses: {
        200: { description: 'Replaced', schema: Policy },
        201: { description: 'Created', schema: Policy },
      },
    }),
    requireScope('ratelimit:write'),
    validate('param', NameParam),
    validate('json', PolicyBody),
    async function putPolicy(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      const { algorithm, limit, period, burst, shadow } = c.req.valid('json')
      const config: PolicyConfig = { algorithm, limit, periodMs: period, shadow }
      if (burst !== undefined) config.burst = burst
      let resource: Resource<PolicyConfig>
      let status: 200 | 201 = 201
      try {
        resource = await createResource(c.env, tenant, POLICY_KIND, name, config)
      } catch (error) {
        if (!(error instanceof AppError && error.code === 'conflict')) throw error
        resource = await updateResource(c.env, tenant, POLICY_KIND, name, config)
        status = 200
      }
      forgetPolicy(tenant, name)
      return c.json(policyView(resource), status)
    },
  )
  .get(
    '/policies',
    describe({
      tags: TAGS,
      summary: "List the tenant's rate-limit policies (by name, paginated)",
      scope: 'ratelimit:read',
      responses: { 200: { description: 'A page of policies', schema: PolicyList } },
    }),
    requireScope('ratelimit:read'),
    validate('query', PageQuery),
    async function listPolicies(c) {
      const { limit, cursor } = c.req.valid('query')
      const page = await listResources<PolicyConfig>(c.env, tenantOf(c), POLICY_KIND, { limit, cursor })
      return c.json({
        items: page.items.map(policyView),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      })
    },
  )
  .get(
    '/policies/:name',
    describe({
      tags: TAGS,
      summary: 'Get a rate-limit policy',
      scope: 'ratelimit:read',
      responses: { 200: { description: 'The policy', schema: Policy } },
      problems: [404],
    }),
    requireScope('ratelimit:read'),
    validate('param', NameParam),
    async function getPolicy(c) {
      const { name } = c.req.valid('param')
      return c.json(policyView(await getResource<PolicyConfig>(c.env, tenantOf(c), POLICY_KIND, name)))
    },
  )
  .delete(
    '/policies/:name',
    describe({
      tags: TAGS,
      summary: 'Delete a rate-limit policy (its keys are forgotten as they go idle)',
      scope: 'ratelimit:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('ratelimit:write'),
    validate('param', NameParam),
    async function deletePolicy(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      await deleteResource(c.env, tenant, POLICY_KIND, name)
      forgetPolicy(tenant, name)
      return c.json({ deleted: true })
    },
  )
  .delete(
    '/policies/:name/keys/:key',
    describe({
      tags: TAGS,
      summary: 'Reset a key: its next check starts with the full limit',
      description: 'Percent-encode keys with "/" or other reserved characters.',
      scope: 'ratelimit:write',
      responses: { 200: { description: 'Reset', schema: KeyReset } },
      problems: [404],
    }),
    requireScope('ratelimit:write'),
    validate('param', KeyParam),
    async function resetPolicyKey(c) {
      const tenant = tenantOf(c)
      const { name, key } = c.req.valid('param')
      await resetKey(c.env, tenant, await policyOrNotFound(c.env, tenant, name), key)
      return c.json({ policy: name, key, reset: true as const })
    },
  )
  .post(
    '/check',
    describe({
      tags: TAGS,
      summary: 'Check (and spend) a cost against one key, or all-or-nothing against several',
      description:
        '200 with `allowed: false` when denied (plus `Retry-After`). `cost: 0` peeks: nothing is spent and ' +
        '`allowed` says whether one unit would pass. In shadow mode `allowed` is always true and ' +
        '`shadowDenied` tells what enforcing would have done.',
      scope: 'ratelimit:write',
      responses: { 200: { description: 'The decision', schema: CheckResult } },
      problems: [404],
    }),
    requireScope('ratelimit:write'),
    validate('json', CheckRequest),
    async function check(c) {
      const tenant = tenantOf(c)
      const { policy: name, key, keys, cost } = c.req.valid('json')
      const policy = await policyOrNotFound(c.env, tenant, name)
      const capacity = capacityOf(policy)
      if (cost > capacity) {
        const what = BUCKET_ALGORITHMS.has(policy.algorithm) ? 'bucket size' : 'limit'
        throw new AppError('validation_failed', `A cost of ${cost} could never be admitted by "${name}".`, {
          errors: [{ path: 'body/cost', message: `At most ${capacity}, the policy's ${what}` }],
        })
      }
      const outcome = await checkKeys(c.env, tenant, policy, keys ?? (key === undefined ? [] : [key]), cost)
      for (const [header, value] of Object.entries(rateLimitHeaders(name, policy, outcome))) {
        c.header(header, value, { append: true })
      }
      return c.json(outcome)
    },
  )

/**
 * The rate limiter as a service, between the routes (and the gateway) and the key objects:
 * policies from the registry, the denial cache, and checks over one or several keys.
 *
 * All-or-nothing over several keys. Each key's state lives in its own object, because the
 * same key (say `user:42`) is also checked alone or with other keys, and one object must own
 * it. So a check over keys K1..Kn is two-phase: (1) `reserve` on every key in parallel — each
 * object admits against its state with all live holds counted, and on success records a hold
 * without spending; (2) if every key admitted, `commit` on each (drop the hold, spend); else
 * `release` on those that admitted (drop the hold). A denial therefore spends nothing on any
 * key, and the limit is never exceeded: while a hold is live, every other check of that key
 * must fit with it counted, so the commit always fits. Reservations never wait on each other,
 * so there are no locks and no deadlocks. The one way to lose atomicity is a coordinator that
 * stalls more than HOLD_TTL_MS between the phases, or a policy change in between: the late
 * commit is then re-checked and may be denied on some keys after others spent.
 */

import type { Env } from '../platform/env'
import { hostedStub } from '../platform/hosted-object'
import { IsolateCache } from '../platform/isolate-cache'
import { findResource } from '../platform/registry'
import { objectName } from '../platform/tenancy'
import { type Algorithm, capacityOf, type Decision, type RatePolicy } from './algorithms'
import { DenialCache } from './denial-cache'
import type { KeyPolicy, RateLimitBucket } from './object'

export const POLICY_KIND = 'ratelimit-policy'

/** A policy's settings as stored in the registry. */
export interface PolicyConfig {
  algorithm: Algorithm
  limit: number
  periodMs: number
  burst?: number | undefined
  shadow: boolean
}

/** A policy ready to check against: its settings, name and state fingerprint. */
export interface ActivePolicy extends KeyPolicy {
  name: string
  shadow: boolean
}

/**
 * How long an isolate reuses what it read about a policy (including "there is none"). Changes
 * made through this isolate apply at once; other isolates see them within this bound.
 */
export const POLICY_CACHE_MS = 5_000

/** Recent lookups, including "there is none". */
const policies = new IsolateCache<ActivePolicy | undefined>(POLICY_CACHE_MS)
/** Bumped by every policy write through this isolate, so a read that raced a write is not cached. */
let policyWrites = 0

/** This isolate's denials, shared by the check endpoint and the gateway. */
export const denials = new DenialCache()

/**
 * The fingerprint of a policy's parameters: a key's stored state is only reused under the same
 * fingerprint, so changing the algorithm, limit, period or burst (or deleting and re-creating
 * the policy) starts its keys afresh, while toggling shadow mode keeps them.
 */
export function fingerprintOf(policy: RatePolicy, createdAt: number | string): string {
  return [createdAt, policy.algorithm, policy.limit, policy.periodMs, policy.burst ?? ''].join('/')
}

export function activePolicy(name: string, config: PolicyConfig, createdAt: number): ActivePolicy {
  const { algorithm, limit, periodMs, burst, shadow } = config
  const parameters: RatePolicy = { algorithm, limit, periodMs, ...(burst !== undefined ? { burst } : {}) }
  return { ...parameters, name, shadow, fingerprint: fingerprintOf(parameters, createdAt) }
}

const policyCacheKey = (tenant: string, name: string) => `${tenant}\n${name}`

/** A tenant's policy, from this isolate's cache or the registry; undefined if there is none. */
export async function findPolicy(
  env: Env,
  tenant: string,
  name: string,
  now = Date.now(),
): Promise<ActivePolicy | undefined> {
  const cacheKey = policyCacheKey(tenant, name)
  const cached = policies.lookup(cacheKey, now)
  if (cached) return cached.value
  const writesBefore = policyWrites
  const resource = await findResource<PolicyConfig>(env, tenant, POLICY_KIND, name)
  const policy = resource ? activePolicy(name, resource.config, resource.createdAt) : undefined
  if (policyWrites === writesBefore) policies.set(cacheKey, policy, now)
  return policy
}

/** Called after a policy is written or deleted through this isolate. */
export function forgetPolicy(tenant: string, name: string): void {
  policyWrites++
  policies.delete(policyCacheKey(tenant, name))
}

export function keyObjectName(tenant: string, policy: string, key: string): string {
  return objectName(tenant, 'ratelimit', `${policy}:${key}`)
}

export interface CheckOutcome extends Decision {
  policy: string
  deniedKeys: string[]
  shadow: boolean
  shadowDenied: boolean
}

/** Checks `cost` against one or several keys of `tenant` under `policy`, all-or-nothing. */
export async function checkKeys(
  env: Env,
  tenant: string,
  policy: ActivePolicy,
  keys: string[],
  cost: number,
): Promise<CheckOutcome> {
  const objects = keys.map((key) => keyObjectName(tenant, policy.name, key))
  const decisions = await decideAll(env.RATELIMIT, keyPolicyOf(policy), objects, cost, !policy.shadow)
  const combined = combine(decisions, capacityOf(policy), cost)
  return {
    ...combined,
    allowed: combined.allowed || policy.shadow,
    policy: policy.name,
    deniedKeys: keys.filter((_, i) => decisions[i]?.allowed === false),
    shadow: policy.shadow,
    shadowDenied: policy.shadow && !combined.allowed,
  }
}

/** Checks one object, through the denial cache (e.g. a block's own ingest limit). */
export async function checkObject(
  namespace: DurableObjectNamespace<RateLimitBucket>,
  policy: KeyPolicy,
  object: string,
  cost: number,
): Promise<Decision> {
  const [decision] = await decideAll(namespace, policy, [object], cost, true)
  if (!decision) throw new Error('A check of one object always decides')
  return decision
}

function keyPolicyOf(policy: ActivePolicy): KeyPolicy {
  const { algorithm, limit, periodMs, burst, fingerprint } = policy
  return { algorithm, limit, periodMs, ...(burst !== undefined ? { burst } : {}), fingerprint }
}

const denialKey = (object: string, policy: KeyPolicy) => `${object}\n${policy.fingerprint}`

/**
 * One decision per object, in order. A denial already known to this isolate's cache settles
 * the whole check without any object call; the keys that were then not asked are `undefined`.
 * Otherwise one call per key (a single key, or a peek) or the two phases.
 */
async function decideAll(
  namespace: DurableObjectNamespace<RateLimitBucket>,
  policy: KeyPolicy,
  objects: string[],
  cost: number,
  useDenialCache: boolean,
): Promise<Array<Decision | undefined>> {
  const now = Date.now()
  const unitCost = Math.max(1, cost)
  if (useDenialCache) {
    const cached = objects.map((object) => denials.lookup(denialKey(object, policy), unitCost, now))
    if (cached.some((decision) => decision !== undefined)) return cached
  }
  const stubs = objects.map((object) => hostedStub(namespace, object))
  const decisions =
    stubs.length === 1 || cost === 0
      ? await Promise.all(stubs.map((stub) => stub.check(policy, cost)))
      : await twoPhase(stubs, policy, cost)
  if (useDenialCache) {
    objects.forEach((object, i) => {
      const decision = decisions[i]
      if (decision) denials.remember(denialKey(object, policy), unitCost, decision, now)
    })
  }
  return decisions
}

type BucketStub = DurableObjectStub<RateLimitBucket>

/** Reserve on every key; commit if all admitted, else release the holds (see the top of the file). */
async function twoPhase(stubs: BucketStub[], policy: KeyPolicy, cost: number): Promise<Decision[]> {
  const holdId = crypto.randomUUID()
  const reserved = await Promise.allSettled(stubs.map((stub) => stub.reserve(policy, cost, holdId)))
  if (reserved.every((result) => result.status === 'fulfilled' && result.value.allowed)) {
    return Promise.all(stubs.map((stub) => stub.commit(policy, cost, holdId)))
  }
  const settled = await Promise.all(
    reserved.map(async (result, i): Promise<Decision> => {
      if (result.status === 'fulfilled' && !result.value.allowed) return result.value
      const current = await (stubs[i] as BucketStub).release(policy, holdId)
      return { ...current, allowed: true, retryAfterMs: 0, reason: 'within_limit' }
    }),
  )
  const failure = reserved.find((result) => result.status === 'rejected')
  if (failure) throw failure.reason
  return settled
}

/** The decisions of several keys as one: admitted only if every key admitted. */
function combine(decisions: Array<Decision | undefined>, limit: number, cost: number): Decision {
  const known = decisions.filter((decision) => decision !== undefined)
  const denied = known.filter((decision) => !decision.allowed)
  const allowed = denied.length === 0
  let reason: Decision['reason'] = allowed ? 'within_limit' : 'over_limit'
  if (denied.length > 0 && denied.every((decision) => decision.reason === 'cached_denial')) {
    reason = 'cached_denial'
  } else if (cost === 0) reason = 'peek'
  return {
    allowed,
    limit,
    remaining: Math.min(...known.map((decision) => decision.remaining)),
    resetAfterMs: Math.max(...known.map((decision) => decision.resetAfterMs)),
    retryAfterMs: allowed ? 0 : Math.max(...denied.map((decision) => decision.retryAfterMs)),
    delayMs: allowed ? Math.max(...known.map((decision) => decision.delayMs)) : 0,
    reason,
  }
}

/** Resets one key: its object forgets it, and so does this isolate's denial cache. */
export async function resetKey(env: Env, tenant: string, policy: ActivePolicy, key: string): Promise<void> {
  const object = keyObjectName(tenant, policy.name, key)
  await hostedStub(env.RATELIMIT, object).reset()
  denials.forget(denialKey(object, policy))
}

/**
 * The Worker side of key operations: picks the level (eventual, quorum, strong → the key
 * range's leader object), builds versions from requests and responses from versions.
 */
import type { ConsistencyLevel } from '../../schemas/kv'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { objectStub } from '../platform/tenancy'
import type { KeySpec } from './coordinator'
import type { Namespace } from './namespaces'
import { type ReadResult, readKey, type WriteRequest, writeKey } from './operations'
import { bucketOf } from './replica'
import { coordinatorDeps, feedStub } from './service'
import { decodeContext } from './versions'

export const LEADER_KIND = 'kv-leader'
export const LEADER_RANGES = 16

export function keySpec(namespace: Namespace, key: string): KeySpec {
  return {
    ns: namespace.ns,
    key,
    replicas: namespace.config.replicas,
    policy: namespace.config.conflict,
    members: namespace.config.members,
    next: namespace.config.next,
  }
}

/** The leader object of the key's range (bucket ranges of the Merkle tree). */
export function leaderStub(env: Env, namespace: Namespace, key: string) {
  const range = Math.floor((bucketOf(key) * LEADER_RANGES) / 1024)
  return objectStub(env.KV_LEADERS, namespace.tenant, LEADER_KIND, namespace.name, range)
}

function levels(namespace: Namespace, consistency: ConsistencyLevel) {
  return consistency === 'eventual'
    ? { r: 1, w: 1 }
    : { r: namespace.config.readQuorum, w: namespace.config.writeQuorum }
}

export function parseContext(text: string | undefined) {
  if (text === undefined) return undefined
  const clock = decodeContext(text)
  if (!clock) {
    throw new AppError('validation_failed', 'The causal context is not one this API issued.', {
      errors: [{ path: 'header/x-kv-context', message: 'Invalid causal context' }],
    })
  }
  return clock
}

export async function getKey(
  env: Env,
  namespace: Namespace,
  key: string,
  consistency: ConsistencyLevel,
  defer: (work: Promise<unknown>) => void,
): Promise<ReadResult> {
  const spec = keySpec(namespace, key)
  if (consistency === 'strong') return leaderStub(env, namespace, key).read(namespace.tenant, spec)
  return readKey(
    coordinatorDeps(env, namespace.tenant, defer),
    spec,
    levels(namespace, consistency).r,
    Date.now(),
  )
}

export async function putKey(
  env: Env,
  namespace: Namespace,
  key: string,
  request: WriteRequest,
  consistency: ConsistencyLevel,
  defer: (work: Promise<unknown>) => void,
) {
  const spec = keySpec(namespace, key)
  const result =
    consistency === 'strong'
      ? await leaderStub(env, namespace, key).write(namespace.tenant, spec, request)
      : await writeKey(
          coordinatorDeps(env, namespace.tenant, defer),
          spec,
          request,
          levels(namespace, consistency),
          Date.now(),
          false,
        )
  // Acknowledged: the change joins the namespace's changefeed before the client hears of it.
  await feedStub(env, namespace.tenant, namespace.name).append([
    { key, version: result.version.id, deleted: result.version.deleted, at: Date.now() },
  ])
  return result
}

/** A delete: a tombstone over `context` (or over what a read at the level sees). */
export function tombstone(context: WriteRequest['context'], ifMatch?: string): WriteRequest {
  return {
    deleted: true,
    value: null,
    contentType: 'application/octet-stream',
    metadata: null,
    expiresAt: null,
    context,
    ifMatch,
  }
}

/** When a value written now with `ttlSeconds` (or the namespace default) expires. */
export function expiryOf(namespace: Namespace, ttlSeconds: number | undefined, now: number): number | null {
  const ttl = ttlSeconds ?? namespace.config.defaultTtlSeconds
  return ttl === null || ttl === undefined ? null : now + ttl * 1000
}

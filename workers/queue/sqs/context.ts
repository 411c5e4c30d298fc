/** What every SQS action gets: the tenant, the key's scope check and the URL/ARN origin. */
import type { Env } from '../../platform/env'
import { type KeyPrincipal, keyAllows } from '../../platform/sigv4/keys'
import { SqsError } from './errors'
import { queueUrl } from './queue-attributes'

export interface SqsContext {
  env: Env
  tenant: string
  region: string
  urlOf(name: string): string
  /** Whether the key may see the queue at all (listing). */
  allows(name: string): boolean
  /** Throws AccessDenied unless the key may read (or write) the queue. */
  allow(name: string, write: boolean): void
}

export function sqsContext(env: Env, principal: KeyPrincipal, region: string, origin: string): SqsContext {
  return {
    env,
    tenant: principal.tenant,
    region,
    urlOf: (name) => queueUrl(origin, principal.tenant, name),
    allows: (name) => keyAllows(principal, 'queues', name, false),
    allow(name, write) {
      if (!keyAllows(principal, 'queues', name, write))
        throw new SqsError('AccessDenied', 'Access to the resource is denied.')
    },
  }
}

/** An optional integer parameter within SQS's bounds. */
export function optionalInteger(
  input: Record<string, unknown>,
  name: string,
  min: number,
  max: number,
): number | undefined {
  const value = input[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
    throw new SqsError(
      'InvalidParameterValue',
      `Value ${String(value)} for parameter ${name} is invalid. Reason: Must be between ${min} and ${max}.`,
    )
  return value
}

/**
 * Small helpers of the pub-sub routes: the tenant's topic object, and validating a body
 * whose schema depends on its content type (CloudEvents) with the same problem shape as
 * the platform's `validate` hook.
 */
import type { Context } from 'hono'
import * as v from 'valibot'
import type { AuthEnv } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { objectStub, tenantOf } from '../platform/tenancy'

// biome-ignore lint/suspicious/noExplicitAny: any route path and input
export function topicStub(c: Context<AuthEnv, any, any>, topic: string) {
  return objectStub(c.env.PUBSUB_TOPICS, tenantOf(c), 'topic', topic)
}

/** Parses `value` with `schema` or throws a 400 problem listing each failing field. */
export function parseInput<Schema extends v.GenericSchema>(
  schema: Schema,
  value: unknown,
  target: string,
): v.InferOutput<Schema> {
  const result = v.safeParse(schema, value)
  if (result.success) return result.output
  throw new AppError('validation_failed', `The request ${target} is invalid.`, {
    errors: result.issues.map((issue) => ({
      path: [target, ...(issue.path ?? []).map((item) => String(item.key))].join('/'),
      message: issue.message,
    })),
  })
}

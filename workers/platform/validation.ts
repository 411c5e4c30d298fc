/**
 * Validation at the edge: every body, query, header and path parameter passes a valibot
 * schema before a handler sees it. One hook answers every failure as a 400 problem whose
 * `errors` lists each failing field's path and message; handlers only see valid input.
 * The same schema documents the route in the OpenAPI document (hono-openapi).
 */
import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Env as HonoEnv, ValidationTargets } from 'hono'
import { validator } from 'hono-openapi'
import { AppError, type FieldError } from './errors'

type Target = keyof ValidationTargets

function fieldPath(target: Target, issue: StandardSchemaV1.Issue): string {
  const segments = (issue.path ?? []).map((segment) =>
    typeof segment === 'object' && segment !== null ? String(segment.key) : String(segment),
  )
  return [target === 'json' ? 'body' : target, ...segments].join('/')
}

/** `validate('json', Schema)`: validates one part of the request or answers 400 problem+json. */
export function validate<
  Schema extends StandardSchemaV1,
  T extends Target,
  E extends HonoEnv,
  P extends string,
>(target: T, schema: Schema) {
  return validator<Schema, T, E, P>(target, schema, (result) => {
    if (result.success) return
    const errors: FieldError[] = result.error.map((issue) => ({
      path: fieldPath(target, issue),
      message: issue.message,
    }))
    throw new AppError(
      'validation_failed',
      `The request ${target === 'json' ? 'body' : target} is invalid.`,
      {
        errors,
      },
    )
  })
}

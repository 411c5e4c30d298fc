/**
 * Validation at the edge: every body, query, header and path parameter passes a valibot
 * schema before a handler sees it. One hook answers every failure as a 400 problem whose
 * `errors` lists each failing field's path and message; handlers only see valid input.
 * The same schema documents the route in the OpenAPI document (hono-openapi).
 *
 * A JSON body is checked before its schema: a body with another media type is a 415 (any
 * `application/json` or `application/*+json`, with parameters such as `charset`, is JSON;
 * an empty body without a content type counts as `{}`), malformed JSON is a 400, and where
 * the schema expects an object the body must be a plain JSON object (not an array, not null).
 */
import type { StandardSchemaV1 } from '@standard-schema/spec'
import type { Context, Env as HonoEnv, MiddlewareHandler, ValidationTargets } from 'hono'
import { validator } from 'hono-openapi'
import { AppError, type FieldError } from './errors'

type Target = keyof ValidationTargets

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i

/** Schema types whose JSON is not an object. */
const NON_OBJECT_TYPES = new Set([
  'array',
  'null',
  'string',
  'number',
  'boolean',
  'literal',
  'picklist',
  'tuple',
  'loose_tuple',
  'strict_tuple',
  'tuple_with_rest',
  'any',
  'unknown',
])

interface SchemaShape {
  type?: unknown
  wrapped?: SchemaShape
  options?: SchemaShape[]
}

/**
 * Whether every body a schema accepts is a JSON object: wrappers (`nullable`, `optional`…)
 * are looked through, and a union accepts a non-object if any of its options does.
 */
function expectsObjectBody(schema: SchemaShape): boolean {
  if (schema.wrapped) return expectsObjectBody(schema.wrapped)
  if (Array.isArray(schema.options)) return schema.options.every(expectsObjectBody)
  return !NON_OBJECT_TYPES.has(String(schema.type))
}

function fieldPath(target: Target, issue: StandardSchemaV1.Issue): string {
  const segments = (issue.path ?? []).map((segment) =>
    typeof segment === 'object' && segment !== null ? String(segment.key) : String(segment),
  )
  return [target === 'json' ? 'body' : target, ...segments].join('/')
}

/** Whether a parsed JSON value is a plain object (`{…}`), not an array, null or a scalar. */
export function isPlainJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** The media type of a Content-Type header, lower-cased, without parameters. */
export function mediaTypeOf(contentType: string | undefined): string {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/** Whether a Content-Type header names JSON (`application/json`, `application/*+json`, any parameters). */
export function isJsonContentType(contentType: string | undefined): boolean {
  return JSON_MEDIA_TYPE.test(mediaTypeOf(contentType))
}

/**
 * Reads the body as JSON under the rules above, or throws the 415/400 AppError. The body
 * stays cached on the request, so the schema validator reads the same parsed text.
 */
export async function readJsonBody(c: Context, expectsObject = true): Promise<unknown> {
  const contentType = c.req.header('content-type')
  if (!isJsonContentType(contentType)) {
    if (contentType === undefined && (await c.req.text()) === '') return {}
    throw new AppError(
      'unsupported_media_type',
      `The request body must be application/json${contentType === undefined ? '' : `, not ${mediaTypeOf(contentType) || 'an empty media type'}`}.`,
      { headers: { 'Accept-Post': 'application/json' } },
    )
  }
  let value: unknown
  try {
    value = await c.req.json()
  } catch {
    throw new AppError('bad_request', 'The request body is not well-formed JSON.')
  }
  if (expectsObject && !isPlainJsonObject(value)) {
    throw new AppError('validation_failed', 'The request body must be a plain JSON object.', {
      errors: [{ path: 'body', message: 'Must be a plain JSON object' }],
    })
  }
  return value
}

/** `validate('json', Schema)`: validates one part of the request or answers 400 problem+json. */
export function validate<
  Schema extends StandardSchemaV1,
  T extends Target,
  E extends HonoEnv,
  P extends string,
>(target: T, schema: Schema) {
  const check = validator<Schema, T, E, P>(target, schema, (result) => {
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
  if (target !== 'json') return check
  const expectsObject = expectsObjectBody(schema as SchemaShape)
  const jsonBody: MiddlewareHandler = async function validateJsonBody(c, next) {
    // An empty body without a content type reaches the validator as `{}` (no options sent).
    await readJsonBody(c, expectsObject)
    return check(c as never, next)
  }
  // Keep hono-openapi's metadata (own symbol properties) so the route stays documented.
  return Object.assign(jsonBody, check) as unknown as typeof check
}

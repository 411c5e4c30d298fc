/**
 * Meilisearch errors: the search block speaks Meilisearch's wire, so its failures are
 * `{ message, code, type, link }` with Meilisearch's codes and statuses, not RFC 9457.
 * `MEILI_STATUS` maps every code to its status (a new code without one fails to compile);
 * `toMeiliError` converts anything thrown, including the platform's AppErrors (auth, body
 * limits, validation), in one place.
 */
import { type AppError, asAppError } from '../platform/errors'

export type MeiliCode =
  | 'index_not_found'
  | 'index_already_exists'
  | 'invalid_index_uid'
  | 'invalid_index_primary_key'
  | 'invalid_index_shards'
  | 'index_primary_key_already_exists'
  | 'index_primary_key_no_candidate_found'
  | 'index_primary_key_multiple_candidates_found'
  | 'document_not_found'
  | 'missing_document_id'
  | 'invalid_document_id'
  | 'invalid_document_fields'
  | 'invalid_document_filter'
  | 'missing_document_filter'
  | 'invalid_document_offset'
  | 'invalid_document_limit'
  | 'malformed_payload'
  | 'missing_payload'
  | 'invalid_content_type'
  | 'missing_content_type'
  | 'payload_too_large'
  | 'invalid_search_q'
  | 'invalid_search_filter'
  | 'invalid_search_sort'
  | 'invalid_search_facets'
  | 'invalid_search_offset'
  | 'invalid_search_limit'
  | 'invalid_search_page'
  | 'invalid_search_hits_per_page'
  | 'invalid_search_attributes_to_retrieve'
  | 'invalid_search_attributes_to_highlight'
  | 'invalid_search_attributes_to_crop'
  | 'invalid_search_crop_length'
  | 'invalid_search_matching_strategy'
  | 'invalid_search_distinct'
  | 'invalid_search_show_ranking_score'
  | 'invalid_search_show_matches_position'
  | 'invalid_search_attributes_to_search_on'
  | 'invalid_search_crop_marker'
  | 'invalid_search_highlight_pre_tag'
  | 'invalid_search_highlight_post_tag'
  | 'invalid_settings_distinct_attribute'
  | 'invalid_settings_ranking_rules'
  | 'invalid_settings_searchable_attributes'
  | 'invalid_settings_typo_tolerance'
  | 'invalid_settings'
  | 'invalid_task_uids'
  | 'task_not_found'
  | 'invalid_multi_search_queries'
  | 'missing_authorization_header'
  | 'invalid_api_key'
  | 'too_many_requests'
  | 'bad_request'
  | 'internal'
  | 'unavailable'

type MeiliType = 'invalid_request' | 'internal' | 'auth' | 'system'

export const MEILI_STATUS: Record<MeiliCode, 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 500 | 503> = {
  index_not_found: 404,
  index_already_exists: 409,
  invalid_index_uid: 400,
  invalid_index_primary_key: 400,
  invalid_index_shards: 400,
  index_primary_key_already_exists: 400,
  index_primary_key_no_candidate_found: 400,
  index_primary_key_multiple_candidates_found: 400,
  document_not_found: 404,
  missing_document_id: 400,
  invalid_document_id: 400,
  invalid_document_fields: 400,
  invalid_document_filter: 400,
  missing_document_filter: 400,
  invalid_document_offset: 400,
  invalid_document_limit: 400,
  malformed_payload: 400,
  missing_payload: 400,
  invalid_content_type: 415,
  missing_content_type: 415,
  payload_too_large: 413,
  invalid_search_q: 400,
  invalid_search_filter: 400,
  invalid_search_sort: 400,
  invalid_search_facets: 400,
  invalid_search_offset: 400,
  invalid_search_limit: 400,
  invalid_search_page: 400,
  invalid_search_hits_per_page: 400,
  invalid_search_attributes_to_retrieve: 400,
  invalid_search_attributes_to_highlight: 400,
  invalid_search_attributes_to_crop: 400,
  invalid_search_crop_length: 400,
  invalid_search_matching_strategy: 400,
  invalid_search_distinct: 400,
  invalid_search_show_ranking_score: 400,
  invalid_search_show_matches_position: 400,
  invalid_search_attributes_to_search_on: 400,
  invalid_search_crop_marker: 400,
  invalid_search_highlight_pre_tag: 400,
  invalid_search_highlight_post_tag: 400,
  invalid_settings_distinct_attribute: 400,
  invalid_settings_ranking_rules: 400,
  invalid_settings_searchable_attributes: 400,
  invalid_settings_typo_tolerance: 400,
  invalid_settings: 400,
  invalid_task_uids: 400,
  task_not_found: 404,
  invalid_multi_search_queries: 400,
  missing_authorization_header: 401,
  invalid_api_key: 403,
  too_many_requests: 429,
  bad_request: 400,
  internal: 500,
  unavailable: 503,
}

function typeOf(code: MeiliCode): MeiliType {
  if (code === 'missing_authorization_header' || code === 'invalid_api_key') return 'auth'
  if (code === 'internal') return 'internal'
  if (code === 'unavailable') return 'system'
  return 'invalid_request'
}

export interface MeiliErrorBody {
  message: string
  code: MeiliCode
  type: MeiliType
  link: string
}

const MARKER = 'meili-error:'

/** A failure in Meilisearch's terms. Survives Durable Object RPC (code in the message). */
export class MeiliError extends Error {
  readonly code: MeiliCode
  readonly detail: string
  constructor(code: MeiliCode, message: string) {
    super(`${MARKER}${code}:${message}`)
    this.name = 'MeiliError'
    this.code = code
    this.detail = message
  }
  get status() {
    return MEILI_STATUS[this.code]
  }
  body(): MeiliErrorBody {
    return {
      message: this.detail,
      code: this.code,
      type: typeOf(this.code),
      link: `https://docs.meilisearch.com/errors#${this.code}`,
    }
  }
}

/** Every platform error code as a Meilisearch code (exhaustive: a new AppError code must be mapped here). */
const CODE_BY_APP: Record<AppError['code'], MeiliCode> = {
  bad_request: 'malformed_payload',
  validation_failed: 'bad_request',
  unauthorized: 'invalid_api_key',
  forbidden: 'invalid_api_key',
  not_found: 'bad_request',
  method_not_allowed: 'bad_request',
  conflict: 'bad_request',
  gone: 'bad_request',
  precondition_failed: 'bad_request',
  payload_too_large: 'payload_too_large',
  unsupported_media_type: 'invalid_content_type',
  unprocessable: 'bad_request',
  rate_limited: 'too_many_requests',
  internal: 'internal',
  bad_gateway: 'unavailable',
  unavailable: 'unavailable',
  timeout: 'unavailable',
}

/** Any thrown value as a Meilisearch error; validation failures name the first failing field. */
export function toMeiliError(
  error: unknown,
  fieldCode: (path: string) => MeiliCode = () => 'bad_request',
): MeiliError {
  if (error instanceof MeiliError) return error
  if (error instanceof Error) {
    const at = error.message.indexOf(MARKER)
    if (at >= 0) {
      const rest = error.message.slice(at + MARKER.length)
      const colon = rest.indexOf(':')
      const code = rest.slice(0, colon) as MeiliCode
      if (code in MEILI_STATUS) return new MeiliError(code, rest.slice(colon + 1))
    }
  }
  const app = asAppError(error)
  if (app.code === 'unauthorized') {
    return app.detail.startsWith('This route needs a bearer token')
      ? new MeiliError(
          'missing_authorization_header',
          'The Authorization header is missing. It must use the bearer authorization method.',
        )
      : new MeiliError('invalid_api_key', `The provided API key is invalid. ${app.detail}`)
  }
  if (app.code === 'forbidden')
    return new MeiliError('invalid_api_key', `The provided API key is invalid. ${app.detail}`)
  if (app.code === 'validation_failed') {
    const first = app.errors?.[0]
    const message = first ? `Invalid value at \`${first.path}\`: ${first.message}` : app.detail
    return new MeiliError(first ? fieldCode(first.path) : 'bad_request', message)
  }
  return new MeiliError(CODE_BY_APP[app.code], app.detail)
}

/** `limit` → `limit`, `hitsPerPage` → `hits_per_page`: Meilisearch codes name fields in snake case. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`)
}

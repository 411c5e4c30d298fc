/**
 * Meilisearch wire helpers for the routes: the error handler (every failure as
 * `{message, code, type, link}` with Meilisearch's status; a failing field names the code,
 * e.g. `body/limit` on a search → `invalid_search_limit`), document bodies read with the
 * exact 10 MiB limit (streamed, refused once past it) and their content type, and the 202
 * answer of a task.
 */
import type { Context } from 'hono'
import { readBounded } from '../platform/streams'
import { MEILI_STATUS, type MeiliCode, MeiliError, snakeCase, toMeiliError } from './errors'
import { MAX_PAYLOAD_BYTES, parsePayload } from './logic/documents'
import type { Document } from './logic/fields'
import type { EnqueuedTaskView } from './writes'

const MEDIA_TYPES = ['application/json', 'application/x-ndjson', 'text/csv']

function codeForField(path: string) {
  return (fieldPath: string): MeiliCode => {
    const setting = /\/settings\/([a-z-]+)$/.exec(path)?.[1]
    const field = setting
      ? setting.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase())
      : (fieldPath.split('/')[1] ?? '')
    const family = /\/(multi-)?search$/.test(path)
      ? 'invalid_search_'
      : /\/settings(\/|$)/.test(path)
        ? 'invalid_settings_'
        : /\/documents/.test(path)
          ? 'invalid_document_'
          : /\/tasks/.test(path)
            ? 'invalid_task_'
            : 'invalid_index_'
    const code = `${family}${snakeCase(field)}`
    return code in MEILI_STATUS
      ? (code as MeiliCode)
      : family === 'invalid_settings_'
        ? 'invalid_settings'
        : 'bad_request'
  }
}

export function meiliErrorResponse(error: unknown, c: Context): Response {
  const meili = toMeiliError(error, codeForField(new URL(c.req.url).pathname))
  if (meili.code === 'internal')
    console.error(JSON.stringify({ level: 'error', block: 'search', error: String(error) }))
  return c.json(meili.body(), meili.status)
}

/** The documents of a write body: content type checked, at most 10 MiB, parsed. */
export async function readDocuments(c: Context): Promise<Document[]> {
  const contentType = c.req.header('content-type')
  if (!contentType) {
    throw new MeiliError(
      'missing_content_type',
      `A Content-Type header is missing. Accepted values for the Content-Type header are: ${MEDIA_TYPES.map((t) => `\`${t}\``).join(', ')}`,
    )
  }
  const mediaType = contentType.split(';')[0]?.trim().toLowerCase() ?? ''
  if (!MEDIA_TYPES.includes(mediaType)) {
    throw new MeiliError(
      'invalid_content_type',
      `The Content-Type \`${contentType}\` is invalid. Accepted values for the Content-Type header are: ${MEDIA_TYPES.map((t) => `\`${t}\``).join(', ')}`,
    )
  }
  // The platform's body limit does not cover these routes (workers/blocks.ts): an oversized
  // body of any size, declared or chunked, gets Meilisearch's 413 and is never buffered past it.
  const declared = Number(c.req.header('content-length') ?? '0')
  if (declared > MAX_PAYLOAD_BYTES) throw tooLarge()
  return parsePayload(
    new TextDecoder().decode(await readBounded(c.req.raw.body, MAX_PAYLOAD_BYTES, tooLarge)),
    mediaType,
  )
}

function tooLarge(): MeiliError {
  return new MeiliError(
    'payload_too_large',
    `The provided payload reached the size limit. The maximum accepted payload size is ${MAX_PAYLOAD_BYTES / 1024 / 1024} MiB.`,
  )
}

export function accepted(c: Context, task: EnqueuedTaskView): Response {
  return c.json(task, 202)
}

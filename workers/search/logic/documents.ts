/**
 * Document payloads: JSON (an array or one object), NDJSON and CSV bodies into documents;
 * the primary key (given, the index's, or inferred from the one attribute whose name ends
 * in "id"); document ids checked like Meilisearch (an integer, or 1–511 bytes of
 * a-z A-Z 0-9 - _); and the shard of each id.
 *
 * Guarantees: a batch is checked as a whole before anything is written: either every
 * document is valid, or the batch is refused with the first problem and nothing changes.
 */
import { shardFor } from '../../platform/hashing'
import { MeiliError } from '../errors'
import type { Document } from './fields'

export const MAX_DOCUMENTS_PER_BATCH = 10_000
export const MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
export const MAX_DOCUMENT_BYTES = 1024 * 1024

const ID = /^[A-Za-z0-9_-]{1,511}$/

function parseCsv(text: string): Document[] {
  const rows: string[][] = []
  let row: string[] = []
  let cell = ''
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i] as string
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else cell += ch
    } else if (ch === '"') quoted = true
    else if (ch === ',') {
      row.push(cell)
      cell = ''
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      row.push(cell)
      rows.push(row)
      row = []
      cell = ''
    } else cell += ch
  }
  if (quoted) throw new MeiliError('malformed_payload', 'The `csv` payload has an unterminated quoted field.')
  if (cell !== '' || row.length > 0) {
    row.push(cell)
    rows.push(row)
  }
  const nonEmpty = rows.filter((r) => !(r.length === 1 && r[0] === ''))
  const [header, ...body] = nonEmpty
  if (!header) return []
  const columns = header.map((name) => {
    const typed = /^(.*):(string|number|boolean)$/.exec(name)
    return typed ? { name: typed[1] as string, type: typed[2] as string } : { name, type: 'string' }
  })
  return body.map((cells, line) => {
    const document: Document = {}
    columns.forEach((column, i) => {
      const raw = cells[i] ?? ''
      if (column.type === 'number') {
        if (raw === '') document[column.name] = null
        else if (Number.isFinite(Number(raw))) document[column.name] = Number(raw)
        else
          throw new MeiliError(
            'malformed_payload',
            `CSV line ${line + 2}: \`${raw}\` in \`${column.name}\` is not a number.`,
          )
      } else if (column.type === 'boolean') document[column.name] = raw === '' ? null : raw.trim() === 'true'
      else document[column.name] = raw
    })
    return document
  })
}

function isDocument(value: unknown): value is Document {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** The documents of a body in one of the three formats, by media type. */
export function parsePayload(text: string, mediaType: string): Document[] {
  let documents: unknown[]
  if (mediaType === 'text/csv') return parseCsv(text)
  if (mediaType === 'application/x-ndjson') {
    documents = []
    for (const [line, raw] of text.split('\n').entries()) {
      if (raw.trim() === '') continue
      try {
        documents.push(JSON.parse(raw))
      } catch {
        throw new MeiliError(
          'malformed_payload',
          `The \`ndjson\` payload provided is malformed at line ${line + 1}.`,
        )
      }
    }
  } else {
    if (text.trim() === '') throw new MeiliError('missing_payload', 'A json payload is missing.')
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new MeiliError(
        'malformed_payload',
        `The \`json\` payload provided is malformed. \`${(error as Error).message}\`.`,
      )
    }
    documents = Array.isArray(parsed) ? parsed : [parsed]
  }
  for (const document of documents) {
    if (!isDocument(document)) {
      throw new MeiliError('malformed_payload', 'The payload must be an object or an array of objects.')
    }
  }
  return documents as Document[]
}

/** The primary key for a batch: given, kept from the index, or inferred from the first document. */
export function choosePrimaryKey(
  documents: Document[],
  current: string | null,
  given: string | undefined,
): string {
  if (current && given && given !== current) {
    throw new MeiliError(
      'index_primary_key_already_exists',
      `Index already has a primary key: \`${current}\`.`,
    )
  }
  if (current) return current
  if (given) return given
  const first = documents[0] ?? {}
  const candidates = Object.keys(first).filter((key) => /id$/i.test(key))
  if (candidates.length === 1) return candidates[0] as string
  if (candidates.length === 0) {
    throw new MeiliError(
      'index_primary_key_no_candidate_found',
      'The primary key inference failed as the engine did not find any field ending with `id` in its name. Please specify the primary key manually using the `primaryKey` query parameter.',
    )
  }
  throw new MeiliError(
    'index_primary_key_multiple_candidates_found',
    `The primary key inference failed as the engine found ${candidates.length} fields ending with \`id\` in their names: '${candidates.join("' and '")}'. Please specify the primary key manually using the \`primaryKey\` query parameter.`,
  )
}

/** A document id as text, or a Meilisearch error naming the offending value. */
export function documentId(value: unknown): string {
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return String(value)
  if (typeof value === 'string' && ID.test(value)) return value
  throw new MeiliError(
    'invalid_document_id',
    `Document identifier \`${JSON.stringify(value)}\` is invalid. A document identifier can be of type integer or string, only composed of alphanumeric characters (a-z A-Z 0-9), hyphens (-) and underscores (_), and can not be more than 511 bytes.`,
  )
}

export interface PreparedDocument {
  id: string
  body: Document
}

/** Ids for a whole batch, or the first problem; a later duplicate of an id replaces (or, updating, merges into) the earlier. */
export function prepareBatch(
  documents: Document[],
  primaryKey: string,
  mode: 'replace' | 'update' = 'replace',
): PreparedDocument[] {
  const byId = new Map<string, PreparedDocument>()
  for (const document of documents) {
    if (!Object.hasOwn(document, primaryKey)) {
      throw new MeiliError(
        'missing_document_id',
        `Document doesn't have a \`${primaryKey}\` attribute: \`${JSON.stringify(document).slice(0, 200)}\`.`,
      )
    }
    const id = documentId(document[primaryKey])
    const earlier = byId.get(id)
    byId.delete(id)
    // A later version of a document in the batch replaces the earlier one, or updates it.
    byId.set(id, { id, body: earlier && mode === 'update' ? { ...earlier.body, ...document } : document })
  }
  return [...byId.values()]
}

/** Splits prepared documents by shard. */
export function byShard<T extends { id: string }>(items: T[], shards: number): T[][] {
  const out: T[][] = Array.from({ length: shards }, () => [])
  for (const item of items) out[shardFor(item.id, shards)]?.push(item)
  return out
}

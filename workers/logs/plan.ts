/**
 * Query plans: which indexes narrow a log query before its pipeline runs on each line.
 *
 * - Streams: the selector's `=` matchers are looked up in the label index (name, value →
 *   streams); the rest of the selector is checked on those streams' label sets.
 * - Words: each `|= "text"` of 3+ characters before any `line_format` is a phrase in the
 *   FTS5 trigram index (a substring search, case-sensitive like the filter itself).
 * - Fields: each top-level (and-joined) `| name="value"` before any `line_format`, on a name
 *   no selected stream has as a label, is looked up in the field index (structured
 *   metadata, JSON fields flattened with `_`, logfmt pairs; values up to MAX_INDEXED_VALUE).
 *
 * Guarantee: every index used returns a superset of the lines the pipeline accepts (each
 * lookup mirrors what the pipeline would see), and the pipeline then runs on every
 * candidate, so results are identical with or without a plan. Cost: pure, O(query size).
 */
import { sanitizeLabelName } from './entries'
import type { LabelFilter, LogQuery } from './logql/ast'
import { jsonFields, logfmtFields } from './logql/pipeline'

export const MAX_INDEXED_VALUE = 256

export interface QueryPlan {
  /** `name = value` pairs every selected stream has (label index). */
  streamLabels: Array<[string, string]>
  /** Phrases every accepted line contains (FTS5 trigram). */
  words: string[]
  /** `name = value` pairs every accepted line has as a field (field index). */
  fields: Array<[string, string]>
}

function topLevelEqualities(filter: LabelFilter, out: Array<[string, string]>): void {
  if (filter.kind === 'and') {
    topLevelEqualities(filter.left, out)
    topLevelEqualities(filter.right, out)
  } else if (filter.kind === 'compare' && filter.op === '=' && typeof filter.value === 'string') {
    out.push([filter.name, filter.value])
  }
}

/** The plan for `query` over streams whose label names are `streamLabelNames`. */
export function planQuery(query: LogQuery, streamLabelNames: ReadonlySet<string>): QueryPlan {
  const streamLabels = query.selector
    .filter((m) => m.op === '=')
    .map((m): [string, string] => [m.name, m.value])
  const words: string[] = []
  const fields: Array<[string, string]> = []
  for (const stage of query.stages) {
    if (stage.kind === 'line_format') break
    if (stage.kind === 'line' && stage.op === '|=' && [...stage.value].length >= 3) words.push(stage.value)
    if (stage.kind === 'label') {
      const equalities: Array<[string, string]> = []
      topLevelEqualities(stage.filter, equalities)
      for (const [name, value] of equalities) {
        const indexable =
          value !== '' &&
          value.length <= MAX_INDEXED_VALUE &&
          !streamLabelNames.has(name) &&
          !name.endsWith('_extracted') &&
          name !== '__error__'
        if (indexable) fields.push([name, value])
      }
    }
  }
  return { streamLabels, words, fields }
}

/** The field index rows of one line: its metadata, and its JSON or logfmt fields. */
export function indexedFields(
  line: string,
  metadata: Record<string, string> | undefined,
): Array<[string, string]> {
  const fields: Array<[string, string]> = metadata ? Object.entries(metadata) : []
  const parsed = jsonFields(line) ?? logfmtFields(line)
  // The parsers' names are sanitized as the pipeline's `json` and `logfmt` stages do.
  if (parsed) for (const [name, value] of parsed) fields.push([sanitizeLabelName(name), value])
  const seen = new Set<string>()
  return fields.filter(([name, value]) => {
    const key = `${name}\n${value}`
    if (value === '' || value.length > MAX_INDEXED_VALUE || seen.has(key)) return false
    seen.add(key)
    return true
  })
}

/** An FTS5 phrase for `text` (quotes doubled), matched as a substring by the trigram tokenizer. */
export function ftsPhrase(text: string): string {
  return `"${text.replaceAll('"', '""')}"`
}

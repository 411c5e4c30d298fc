/**
 * The order of results: each ranking rule contributes parts to a document's sort key
 * (`words`, `typo`, `proximity`, `attribute`, `exactness`, `sort`, `attr:asc|desc`, and
 * the extension `bm25`); BM25 and the document id break the remaining ties, so the order
 * is total and the same wherever the documents live. Keys travel from shards to the
 * coordinator, which merges shard lists with the same comparator.
 *
 * `_rankingScore` is a [0, 1] summary of the rules (earlier rules weigh more), as in
 * Meilisearch: comparable within one query, not across queries.
 */
import { valuesAt } from './fields'
import { geoPoint, haversine, type LatLng } from './geo'
import { MAX_PROXIMITY } from './positions'
import type { Features } from './rank'

export type KeyPart = number | string | null
/** 1 = ascending, -1 = descending, per key part. */
export type Directions = Array<1 | -1>

export interface SortSpec {
  attribute: string
  direction: 'asc' | 'desc'
  /** `_geoPoint(lat, lng)`: sort by the distance of `_geo` from this point. */
  point?: LatLng | undefined
}

export const CUSTOM_RULE = /^([^:]+):(asc|desc)$/

/** A sort value for a document: arrays sort by their least (asc) or greatest (desc) element. */
export function sortValue(document: unknown, spec: SortSpec): KeyPart {
  if (spec.point) {
    const point = geoPoint(document as Record<string, unknown>)
    return point ? haversine(spec.point, point) : null
  }
  const values = valuesAt(document, spec.attribute).values.filter(
    (value): value is number | string => typeof value === 'number' || typeof value === 'string',
  )
  if (values.length === 0) return null
  const numbers = values.filter((value): value is number => typeof value === 'number')
  if (numbers.length > 0) return spec.direction === 'asc' ? Math.min(...numbers) : Math.max(...numbers)
  const strings = (values as string[]).map((value) => value.toLowerCase()).sort()
  return (spec.direction === 'asc' ? strings[0] : strings[strings.length - 1]) ?? null
}

/** The sort specs a document needs values for, in key order (the `sort` rule's place and custom rules). */
export function sortSpecsInKey(rules: string[], sort: SortSpec[]): SortSpec[] {
  const out: SortSpec[] = []
  for (const rule of rules) {
    if (rule === 'sort') out.push(...sort)
    const custom = CUSTOM_RULE.exec(rule)
    if (custom) out.push({ attribute: custom[1] as string, direction: custom[2] as 'asc' | 'desc' })
  }
  return out
}

export function keyDirections(rules: string[], sort: SortSpec[]): Directions {
  const directions: Directions = []
  for (const rule of rules) {
    if (rule === 'attribute') directions.push(1, 1)
    else if (rule === 'sort') for (const spec of sort) directions.push(spec.direction === 'asc' ? 1 : -1)
    else {
      const custom = CUSTOM_RULE.exec(rule)
      directions.push(custom ? (custom[2] === 'asc' ? 1 : -1) : 1)
    }
  }
  directions.push(1)
  return directions
}

/** The key of one document; `sortValues` are in `sortSpecsInKey` order. */
export function rankingKey(
  rules: string[],
  features: Features,
  sortValues: KeyPart[],
  sortCount: number,
): KeyPart[] {
  const key: KeyPart[] = []
  let nextSort = 0
  for (const rule of rules) {
    if (rule === 'words') key.push(-features.words)
    else if (rule === 'typo') key.push(features.typos)
    else if (rule === 'proximity') key.push(features.proximity)
    else if (rule === 'attribute') key.push(features.attribute, features.position)
    else if (rule === 'exactness') key.push(-features.exactness)
    else if (rule === 'bm25') key.push(-features.bm25)
    else if (rule === 'sort') {
      for (let i = 0; i < sortCount; i++) key.push(sortValues[nextSort++] ?? null)
    } else if (CUSTOM_RULE.test(rule)) key.push(sortValues[nextSort++] ?? null)
  }
  key.push(-features.bm25)
  return key
}

function compareParts(a: KeyPart, b: KeyPart, direction: 1 | -1): number {
  if (a === b) return 0
  if (a === null) return 1
  if (b === null) return -1
  if (typeof a !== typeof b) return typeof a === 'number' ? -1 : 1
  return (a < b ? -1 : 1) * direction
}

/** Numeric ids in numeric order, before other ids in code-unit order. */
export function compareIds(a: string, b: string): number {
  const na = /^\d+$/.test(a)
  const nb = /^\d+$/.test(b)
  if (na && nb) return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0)
  if (na !== nb) return na ? -1 : 1
  return a < b ? -1 : a > b ? 1 : 0
}

export function compareHits(
  a: { key: KeyPart[]; id: string },
  b: { key: KeyPart[]; id: string },
  directions: Directions,
): number {
  for (let i = 0; i < a.key.length; i++) {
    const order = compareParts(a.key[i] ?? null, b.key[i] ?? null, directions[i] ?? 1)
    if (order !== 0) return order
  }
  return compareIds(a.id, b.id)
}

/** `_rankingScore`: each rule's fraction in [0, 1], rule i weighing 2^-(i+1), normalized. */
export function rankingScore(
  rules: string[],
  features: Features,
  wordCount: number,
  fieldCount: number,
): number {
  let total = 0
  let weights = 0
  let weight = 1
  for (const rule of rules) {
    let fraction: number | undefined
    const pairs = Math.max(0, features.words - 1)
    if (wordCount === 0) fraction = rule === 'sort' || CUSTOM_RULE.test(rule) ? undefined : 1
    else if (rule === 'words') fraction = features.words / wordCount
    else if (rule === 'typo') fraction = 1 - features.typos / (2 * wordCount + 1)
    else if (rule === 'proximity')
      fraction = pairs === 0 ? 1 : 1 - (features.proximity - pairs) / (pairs * (MAX_PROXIMITY - 1))
    else if (rule === 'attribute')
      fraction = 1 - Math.min(features.attribute, fieldCount) / Math.max(1, fieldCount)
    else if (rule === 'exactness') fraction = features.exactness / wordCount
    else if (rule === 'bm25') fraction = features.bm25 / (features.bm25 + wordCount)
    if (fraction === undefined) continue
    weight /= 2
    total += weight * Math.max(0, Math.min(1, fraction))
    weights += weight
  }
  return weights === 0 ? 1 : Math.round((total / weights) * 1e6) / 1e6
}

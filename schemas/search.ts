/**
 * Schemas of the search block (`/v1/search`, Meilisearch's wire): index options, search
 * parameters, settings, document and task queries. Every bound a client can hit is here so
 * it shows in the OpenAPI document. Unknown fields are ignored, as Meilisearch clients
 * send newer parameters this subset does not implement.
 */
import * as v from 'valibot'

export const SEARCH_LIMITS = {
  maxQueryLength: 2048,
  maxFilterLength: 16 * 1024,
  maxAttributeLength: 512,
  maxAttributes: 256,
  maxHits: 10_000,
  maxMultiSearchQueries: 100,
  maxStopWords: 10_000,
  maxSynonymKeys: 10_000,
  maxShards: 64,
  maxDocumentsPerBatch: 10_000,
  maxPayloadBytes: 10 * 1024 * 1024,
  maxDocumentBytes: 1024 * 1024,
  maxTaskQueryLimit: 1000,
} as const

const Attribute = v.pipe(v.string(), v.minLength(1), v.maxLength(SEARCH_LIMITS.maxAttributeLength))
const Attributes = v.pipe(v.array(Attribute), v.maxLength(SEARCH_LIMITS.maxAttributes))
const Count = (max: number) => v.pipe(v.number(), v.integer('A whole number'), v.minValue(0), v.maxValue(max))
const Short = (max: number) => v.pipe(v.string(), v.maxLength(max))

export const IndexUidParam = v.object({ indexUid: Short(400) })
export const DocumentParam = v.object({ indexUid: Short(400), documentId: Short(511) })
export const TaskParam = v.object({ taskUid: v.pipe(v.string(), v.regex(/^\d{1,15}$/, 'A task uid')) })

export const CreateIndexBody = v.object({
  uid: Short(400),
  primaryKey: v.optional(v.nullable(Attribute)),
  /** Extension: how many shard objects hold the index (default 1). */
  shards: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(SEARCH_LIMITS.maxShards))),
  /** Extension: a shard holding more documents than this doubles the index's shards (default 200,000). */
  maxShardDocuments: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(10_000_000))),
})

export const UpdateIndexBody = v.object({ primaryKey: v.optional(v.nullable(Attribute)) })

export const FilterBody = v.union([
  Short(SEARCH_LIMITS.maxFilterLength),
  v.pipe(
    v.array(
      v.union([
        Short(SEARCH_LIMITS.maxFilterLength),
        v.pipe(v.array(Short(SEARCH_LIMITS.maxFilterLength)), v.maxLength(100)),
      ]),
    ),
    v.maxLength(100),
  ),
])

export const SearchFields = {
  q: v.optional(v.nullable(Short(SEARCH_LIMITS.maxQueryLength))),
  offset: v.optional(Count(SEARCH_LIMITS.maxHits)),
  limit: v.optional(Count(SEARCH_LIMITS.maxHits)),
  page: v.optional(Count(SEARCH_LIMITS.maxHits)),
  hitsPerPage: v.optional(Count(SEARCH_LIMITS.maxHits)),
  filter: v.optional(v.nullable(FilterBody)),
  sort: v.optional(v.nullable(Attributes)),
  facets: v.optional(v.nullable(Attributes)),
  attributesToRetrieve: v.optional(v.nullable(Attributes)),
  attributesToHighlight: v.optional(v.nullable(Attributes)),
  highlightPreTag: v.optional(Short(100)),
  highlightPostTag: v.optional(Short(100)),
  attributesToCrop: v.optional(v.nullable(Attributes)),
  cropLength: v.optional(Count(1000)),
  cropMarker: v.optional(Short(100)),
  showMatchesPosition: v.optional(v.boolean()),
  showRankingScore: v.optional(v.boolean()),
  matchingStrategy: v.optional(v.picklist(['last', 'all', 'frequency', 'any'])),
  attributesToSearchOn: v.optional(v.nullable(Attributes)),
  /** Keeps one hit per value of this attribute (overrides the `distinctAttribute` setting). */
  distinct: v.optional(v.nullable(Attribute)),
}

export const SearchBody = v.object(SearchFields)

const QueryNumber = (max: number) =>
  v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,6}$/, 'A positive integer'), v.transform(Number), v.maxValue(max)),
  )
const QueryBoolean = v.optional(
  v.pipe(
    v.picklist(['true', 'false'], 'true or false'),
    v.transform((text) => text === 'true'),
  ),
)
/** Splits on commas outside parentheses (`_geoPoint(1,2):asc,year:desc` is two items). */
function commaItems(text: string): string[] {
  const out: string[] = []
  let depth = 0
  let item = ''
  for (const ch of text) {
    if (ch === '(') depth++
    else if (ch === ')') depth = Math.max(0, depth - 1)
    if (ch === ',' && depth === 0) {
      out.push(item)
      item = ''
    } else item += ch
  }
  out.push(item)
  return out.map((entry) => entry.trim()).filter((entry) => entry !== '')
}

const QueryList = v.optional(
  v.pipe(Short(64 * 1024), v.transform(commaItems), v.maxLength(SEARCH_LIMITS.maxAttributes)),
)

/** `GET /indexes/{uid}/search`: Meilisearch's query parameters (lists comma-separated). */
export const SearchQuery = v.object({
  q: v.optional(Short(SEARCH_LIMITS.maxQueryLength)),
  offset: QueryNumber(SEARCH_LIMITS.maxHits),
  limit: QueryNumber(SEARCH_LIMITS.maxHits),
  page: QueryNumber(SEARCH_LIMITS.maxHits),
  hitsPerPage: QueryNumber(SEARCH_LIMITS.maxHits),
  filter: v.optional(Short(SEARCH_LIMITS.maxFilterLength)),
  sort: QueryList,
  facets: QueryList,
  attributesToRetrieve: QueryList,
  attributesToHighlight: QueryList,
  highlightPreTag: v.optional(Short(100)),
  highlightPostTag: v.optional(Short(100)),
  attributesToCrop: QueryList,
  cropLength: QueryNumber(1000),
  cropMarker: v.optional(Short(100)),
  showMatchesPosition: QueryBoolean,
  showRankingScore: QueryBoolean,
  matchingStrategy: v.optional(v.picklist(['last', 'all', 'frequency', 'any'])),
  attributesToSearchOn: QueryList,
  distinct: v.optional(Attribute),
})

export const MultiSearchBody = v.object({
  queries: v.pipe(
    v.array(v.object({ indexUid: Short(400), ...SearchFields })),
    v.maxLength(SEARCH_LIMITS.maxMultiSearchQueries),
  ),
})

const RankingRule = v.pipe(
  v.string(),
  v.regex(
    /^(words|typo|proximity|attribute|sort|exactness|bm25|[^:\s]{1,512}:(asc|desc))$/,
    'A ranking rule: words, typo, proximity, attribute, sort, exactness, bm25 or <attribute>:asc|desc',
  ),
)

export const SettingsFields = {
  displayedAttributes: v.optional(v.nullable(Attributes)),
  searchableAttributes: v.optional(v.nullable(Attributes)),
  filterableAttributes: v.optional(v.nullable(Attributes)),
  sortableAttributes: v.optional(v.nullable(Attributes)),
  rankingRules: v.optional(v.nullable(v.pipe(v.array(RankingRule), v.maxLength(64)))),
  stopWords: v.optional(v.nullable(v.pipe(v.array(Short(100)), v.maxLength(SEARCH_LIMITS.maxStopWords)))),
  synonyms: v.optional(
    v.nullable(
      v.pipe(
        v.record(Short(100), v.pipe(v.array(Short(100)), v.maxLength(100))),
        v.check((record) => Object.keys(record).length <= SEARCH_LIMITS.maxSynonymKeys, 'Too many synonyms'),
      ),
    ),
  ),
  distinctAttribute: v.optional(v.nullable(Attribute)),
  typoTolerance: v.optional(
    v.nullable(
      v.object({
        enabled: v.optional(v.boolean()),
        minWordSizeForTypos: v.optional(
          v.object({ oneTypo: v.optional(Count(255)), twoTypos: v.optional(Count(255)) }),
        ),
        disableOnWords: v.optional(v.pipe(v.array(Short(100)), v.maxLength(10_000))),
        disableOnAttributes: v.optional(Attributes),
        disableOnNumbers: v.optional(v.boolean()),
      }),
    ),
  ),
  pagination: v.optional(v.nullable(v.object({ maxTotalHits: v.optional(Count(SEARCH_LIMITS.maxHits)) }))),
  faceting: v.optional(v.nullable(v.object({ maxValuesPerFacet: v.optional(Count(10_000)) }))),
  /** Extension: `english` matches words sharing a Porter stem. */
  stemming: v.optional(v.nullable(v.picklist(['none', 'english']))),
  /** Extension: BM25 weight per searchable attribute. */
  attributeWeights: v.optional(
    v.nullable(v.record(Attribute, v.pipe(v.number(), v.minValue(0), v.maxValue(100)))),
  ),
}

export const SettingsBody = v.object(SettingsFields)

export const DocumentsQuery = v.object({
  offset: v.optional(v.pipe(v.string(), v.regex(/^\d{1,6}$/), v.transform(Number))),
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,5}$/), v.transform(Number), v.maxValue(SEARCH_LIMITS.maxHits)),
  ),
  fields: v.optional(Short(4096)),
  filter: v.optional(Short(SEARCH_LIMITS.maxFilterLength)),
})

export const DocumentsFetchBody = v.object({
  offset: v.optional(Count(1_000_000)),
  limit: v.optional(Count(SEARCH_LIMITS.maxHits)),
  fields: v.optional(v.nullable(Attributes)),
  filter: v.optional(v.nullable(FilterBody)),
})

export const DocumentWriteQuery = v.object({ primaryKey: v.optional(Attribute) })

export const DeleteBatchBody = v.pipe(
  v.array(v.union([Short(511), v.number()])),
  v.maxLength(SEARCH_LIMITS.maxDocumentsPerBatch),
)

export const DeleteByFilterBody = v.object({ filter: FilterBody })

const CommaList = v.optional(Short(4096))
export const TasksQuery = v.object({
  limit: v.optional(
    v.pipe(
      v.string(),
      v.regex(/^\d{1,4}$/),
      v.transform(Number),
      v.maxValue(SEARCH_LIMITS.maxTaskQueryLimit),
    ),
  ),
  from: v.optional(v.pipe(v.string(), v.regex(/^\d{1,15}$/), v.transform(Number))),
  indexUids: CommaList,
  statuses: CommaList,
  types: CommaList,
})

export const IndexListQuery = v.object({
  offset: v.optional(v.pipe(v.string(), v.regex(/^\d{1,6}$/), v.transform(Number))),
  limit: v.optional(v.pipe(v.string(), v.regex(/^\d{1,4}$/), v.transform(Number))),
})

export const EnqueuedTask = v.object({
  taskUid: v.number(),
  indexUid: v.nullable(v.string()),
  status: v.string(),
  type: v.string(),
  enqueuedAt: v.string(),
})

export const MeiliErrorSchema = v.object({
  message: v.string(),
  code: v.string(),
  type: v.string(),
  link: v.string(),
})

/**
 * The coordinator's merge: the shards' sorted top lists merged with the same comparator
 * the shards used (so the order equals a single shard's), the requested page cut out,
 * totals and facet counts summed (with `distinct`, per kept value: logic/distinct.ts), and each hit formatted (displayed attributes,
 * `_formatted`, `_matchesPosition`, `_rankingScore`) in Meilisearch's response shape.
 */
import { type DistinctGroup, mergeDistinct } from './distinct'
import type { Candidate } from './expand'
import { type FacetCounts, mergeFacets } from './facets'
import { type Document, distinctValue, pick } from './fields'
import { formatHit, type MatchTerms } from './format'
import { geoPoint, haversine } from './geo'
import { compareHits, type KeyPart, keyDirections, rankingScore } from './order'
import type { Features } from './rank'
import type { PreparedSearch, SearchParams } from './request'

export interface MergeInput {
  hits: Array<{ id: string; key: KeyPart[]; features: Features; document: Document }>
  total: number
  facets: FacetCounts
  groups?: DistinctGroup[] | undefined
}

export function matchTerms(prepared: PreparedSearch, candidates: Candidate[][]): MatchTerms {
  const whole = new Set<string>()
  for (const list of candidates)
    for (const candidate of list) if (!candidate.prefix) whole.add(candidate.term)
  for (const phrase of prepared.parsed.phrases) for (const term of phrase) whole.add(term)
  return { whole, prefixes: prepared.parsed.words.filter((w) => w.prefix).map((w) => w.term) }
}

function retrieved(document: Document, prepared: PreparedSearch, params: SearchParams): Document {
  const displayed = pick(document, prepared.settings.displayedAttributes)
  const wanted = params.attributesToRetrieve
  return wanted && !wanted.includes('*') ? pick(displayed, wanted) : displayed
}

export function respond(
  prepared: PreparedSearch,
  params: SearchParams,
  shards: MergeInput[],
  candidates: Candidate[][],
  processingTimeMs: number,
) {
  const directions = keyDirections(prepared.settings.rankingRules, prepared.sort)
  let all = shards.flatMap((shard) => shard.hits).sort((a, b) => compareHits(a, b, directions))
  let total = shards.reduce((sum, shard) => sum + shard.total, 0)
  let facetParts = shards.map((shard) => shard.facets)
  if (prepared.distinct !== null && shards.length > 1) {
    const merged = mergeDistinct(
      shards.map((shard) => ({ loose: shard.total, facets: shard.facets, groups: shard.groups ?? [] })),
      directions,
    )
    total = merged.total
    facetParts = merged.facets
    // Each shard kept its best hit per value; across shards the first (best) one stays.
    const seen = new Set<string>()
    all = all.filter((hit) => {
      const value = distinctValue(hit.document, prepared.distinct as string)
      if (value === undefined) return true
      if (seen.has(value)) return false
      seen.add(value)
      return true
    })
  }
  const geoSort = prepared.sort.find((spec) => spec.point)?.point
  const page = all
    .slice(prepared.offset, prepared.offset + prepared.limit)
    .slice(0, Math.max(0, prepared.shardLimit - prepared.offset))
  const terms = matchTerms(prepared, candidates)
  const crop = new Map<string, number>()
  for (const entry of params.attributesToCrop ?? []) {
    const [field, length] = entry.split(':') as [string, string | undefined]
    crop.set(field, length !== undefined && /^\d+$/.test(length) ? Number(length) : (params.cropLength ?? 10))
  }
  const fieldCount = prepared.settings.searchableAttributes.includes('*')
    ? 1
    : prepared.settings.searchableAttributes.length
  const hits = page.map((hit) => {
    const document = retrieved(hit.document, prepared, params)
    const { formatted, matchesPosition } = formatHit(document, terms, {
      highlight: params.attributesToHighlight ?? [],
      crop,
      preTag: params.highlightPreTag ?? '<em>',
      postTag: params.highlightPostTag ?? '</em>',
      cropMarker: params.cropMarker ?? '…',
      matchesPosition: params.showMatchesPosition === true,
    })
    const out: Record<string, unknown> = { ...document }
    if (formatted) out._formatted = formatted
    if (matchesPosition) out._matchesPosition = matchesPosition
    if (geoSort) {
      const point = geoPoint(hit.document)
      if (point) out._geoDistance = Math.round(haversine(geoSort, point))
    }
    if (params.showRankingScore) {
      out._rankingScore = rankingScore(
        prepared.settings.rankingRules,
        hit.features,
        prepared.parsed.words.length,
        fieldCount,
      )
    }
    return out
  })
  const capped = Math.min(total, prepared.settings.pagination.maxTotalHits)
  const response: Record<string, unknown> = { hits, query: prepared.q, processingTimeMs }
  if (prepared.pages) {
    const { page: pageNumber, hitsPerPage } = prepared.pages
    Object.assign(response, {
      hitsPerPage,
      page: pageNumber,
      totalPages: hitsPerPage === 0 ? 0 : Math.ceil(capped / hitsPerPage),
      totalHits: capped,
    })
  } else {
    Object.assign(response, { limit: prepared.limit, offset: prepared.offset, estimatedTotalHits: capped })
  }
  if (prepared.facets.length > 0) {
    const facets = mergeFacets(facetParts, prepared.facets, prepared.settings.faceting.maxValuesPerFacet)
    response.facetDistribution = facets.distribution
    response.facetStats = facets.stats
  }
  return response
}

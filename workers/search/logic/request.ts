/**
 * A search request checked against the index's settings and turned into what the shards
 * and the formatter need: parsed query, filter tree, sort specs, facets, how many hits
 * each shard must return, and the response's pagination shape. Every problem is a
 * Meilisearch error naming the parameter (`invalid_search_filter`, `invalid_search_sort`,
 * `invalid_search_facets`…), raised before any shard is asked.
 */
import { MeiliError } from '../errors'
import type { FilterNode } from './filter-parse'
import { type FilterInput, FilterSyntaxError, filterAttributes, parseFilter } from './filter-parse'
import { checkLatitude, checkLongitude, GEO_SORT } from './geo'
import type { SortSpec } from './order'
import { type ParsedQuery, parseQuery } from './query'
import type { MatchingStrategy } from './rank'
import { attributeMatches, type Settings, searchConfig } from './settings'

export interface SearchParams {
  q?: string | null | undefined
  offset?: number | undefined
  limit?: number | undefined
  page?: number | undefined
  hitsPerPage?: number | undefined
  filter?: FilterInput | null | undefined
  sort?: string[] | null | undefined
  facets?: string[] | null | undefined
  attributesToRetrieve?: string[] | null | undefined
  attributesToHighlight?: string[] | null | undefined
  highlightPreTag?: string | undefined
  highlightPostTag?: string | undefined
  attributesToCrop?: string[] | null | undefined
  cropLength?: number | undefined
  cropMarker?: string | undefined
  showMatchesPosition?: boolean | undefined
  showRankingScore?: boolean | undefined
  matchingStrategy?: MatchingStrategy | undefined
  attributesToSearchOn?: string[] | null | undefined
  distinct?: string | null | undefined
}

export interface PreparedSearch {
  q: string
  parsed: ParsedQuery
  settings: Settings
  filter: FilterNode | undefined
  sort: SortSpec[]
  facets: string[]
  strategy: MatchingStrategy
  /** Hits each shard returns: the best `offset + limit`. */
  shardLimit: number
  offset: number
  limit: number
  pages: { page: number; hitsPerPage: number } | null
  /** Keep one hit per value of this attribute (the parameter, else the setting). */
  distinct: string | null
}

function list(patterns: string[]): string {
  return patterns.map((p) => `\`${p}\``).join(', ')
}

/** Parses and checks a filter against the filterable attributes; `code` names the parameter. */
export function checkedFilter(
  input: FilterInput | null | undefined,
  settings: Settings,
  code: 'invalid_search_filter' | 'invalid_document_filter' = 'invalid_search_filter',
): FilterNode | undefined {
  let filter: FilterNode | undefined
  try {
    filter = parseFilter(input)
  } catch (error) {
    if (error instanceof FilterSyntaxError) throw new MeiliError(code, error.message)
    throw error
  }
  for (const attribute of filterAttributes(filter)) {
    if (!attributeMatches(settings.filterableAttributes, attribute)) {
      const available =
        settings.filterableAttributes.length === 0
          ? 'This index does not have configured filterable attributes'
          : `Available filterable attribute patterns are: ${list(settings.filterableAttributes)}`
      throw new MeiliError(code, `Attribute \`${attribute}\` is not filterable. ${available}.`)
    }
  }
  return filter
}

function checkedSort(sort: string[] | null | undefined, settings: Settings): SortSpec[] {
  if (!sort || sort.length === 0) return []
  if (!settings.rankingRules.includes('sort')) {
    throw new MeiliError(
      'invalid_search_sort',
      'You must specify where `sort` is listed in the rankingRules setting to use the sort parameter at search time.',
    )
  }
  return sort.map((entry) => {
    const match = /^(.+):(asc|desc)$/.exec(entry.trim())
    if (!match) {
      throw new MeiliError(
        'invalid_search_sort',
        `Invalid syntax for the sort parameter: expected expression ending by \`:asc\` or \`:desc\`, found \`${entry}\`.`,
      )
    }
    const direction = match[2] as 'asc' | 'desc'
    const attribute = (match[1] as string).trim()
    if (attribute === '_geo')
      throw new MeiliError(
        'invalid_search_sort',
        "`_geo` is a reserved keyword and thus can't be used as a sort expression. Use the _geoPoint(latitude, longitude) built-in rule to sort on _geo field coordinates.",
      )
    const geo = GEO_SORT.exec(attribute)
    if (geo || attribute.startsWith('_geoPoint')) {
      const fail = (message: string) => new MeiliError('invalid_search_sort', `${message}.`)
      if (!geo)
        throw fail(
          `Invalid syntax for the geo parameter: expected expression formated like \`_geoPoint(latitude, longitude)\` and ending by \`:asc\` or \`:desc\`, found \`${entry}\``,
        )
      const point: [number, number] = [
        checkLatitude(geo[1] as string, fail),
        checkLongitude(geo[2] as string, fail),
      ]
      if (!attributeMatches(settings.sortableAttributes, '_geo'))
        throw new MeiliError(
          'invalid_search_sort',
          `Attribute \`_geo\` is not sortable. ${settings.sortableAttributes.length === 0 ? 'This index does not have configured sortable attributes' : `Available sortable attributes are: ${list(settings.sortableAttributes)}`}.`,
        )
      return { attribute: '_geo', direction, point }
    }
    if (!attributeMatches(settings.sortableAttributes, attribute)) {
      const available =
        settings.sortableAttributes.length === 0
          ? 'This index does not have configured sortable attributes'
          : `Available sortable attributes are: ${list(settings.sortableAttributes)}`
      throw new MeiliError('invalid_search_sort', `Attribute \`${attribute}\` is not sortable. ${available}.`)
    }
    return { attribute, direction }
  })
}

function checkedFacets(facets: string[] | null | undefined, settings: Settings): string[] {
  if (!facets) return []
  if (facets.includes('*')) return settings.filterableAttributes.filter((a) => a !== '*')
  for (const facet of facets) {
    if (!attributeMatches(settings.filterableAttributes, facet)) {
      const available =
        settings.filterableAttributes.length === 0
          ? 'This index does not have configured filterable attributes'
          : `Available facets are: ${list(settings.filterableAttributes)}`
      throw new MeiliError(
        'invalid_search_facets',
        `Invalid facet distribution: Attribute \`${facet}\` is not filterable. ${available}.`,
      )
    }
  }
  return facets
}

function checkedDistinct(distinct: string | null | undefined, settings: Settings): string | null {
  if (distinct === undefined || distinct === null) return settings.distinctAttribute
  if (!attributeMatches(settings.filterableAttributes, distinct)) {
    const available =
      settings.filterableAttributes.length === 0
        ? 'This index does not have configured filterable attributes'
        : `Available filterable attributes patterns are: ${list(settings.filterableAttributes)}`
    throw new MeiliError(
      'invalid_search_distinct',
      `Attribute \`${distinct}\` is not filterable and thus, cannot be used as distinct attribute. ${available}.`,
    )
  }
  return distinct
}

export function prepareSearch(params: SearchParams, indexSettings: Settings): PreparedSearch {
  let settings = indexSettings
  if (params.attributesToSearchOn && !params.attributesToSearchOn.includes('*')) {
    const searchable = settings.searchableAttributes
    for (const attribute of params.attributesToSearchOn) {
      if (!attributeMatches(searchable, attribute)) {
        throw new MeiliError(
          'invalid_search_attributes_to_search_on',
          `Attribute \`${attribute}\` is not searchable. Available searchable attributes are: ${list(searchable)}.`,
        )
      }
    }
    // The restricted fields keep their rank order from the index's searchable attributes.
    const rank = (attribute: string) =>
      searchable.findIndex((pattern) => attributeMatches([pattern], attribute))
    const restricted = [...params.attributesToSearchOn].sort((a, b) => rank(a) - rank(b))
    settings = { ...settings, searchableAttributes: restricted }
  }
  const q = params.q ?? ''
  const parsed = parseQuery(q, searchConfig(settings))
  const maxTotalHits = settings.pagination.maxTotalHits
  let offset: number
  let limit: number
  let pages: PreparedSearch['pages'] = null
  if (params.page !== undefined || params.hitsPerPage !== undefined) {
    const page = params.page ?? 1
    const hitsPerPage = params.hitsPerPage ?? 20
    pages = { page, hitsPerPage }
    offset = page === 0 ? 0 : (page - 1) * hitsPerPage
    limit = page === 0 ? 0 : hitsPerPage
  } else {
    offset = params.offset ?? 0
    limit = params.limit ?? 20
  }
  const shardLimit = Math.max(0, Math.min(offset + limit, maxTotalHits))
  return {
    q,
    parsed,
    settings,
    filter: checkedFilter(params.filter, settings),
    sort: checkedSort(params.sort, settings),
    facets: checkedFacets(params.facets, settings),
    strategy: params.matchingStrategy ?? 'last',
    distinct: checkedDistinct(params.distinct, settings),
    shardLimit,
    offset,
    limit,
    pages,
  }
}

/**
 * Scatter-gather search. With one shard, one call does both phases. With several: phase 1
 * asks every shard to expand the query words over its vocabulary and report its
 * statistics; the coordinator unions the candidates and sums document counts, field
 * lengths and document frequencies; phase 2 asks every shard for its best
 * `offset + limit` hits ranked with those global numbers; the lists are merged. Scores are
 * therefore identical to a single-shard index holding the same documents.
 */
import type { Env } from '../platform/env'
import { allShards, type SearchIndex } from './indexes'
import { type Candidate, mergeExpansions } from './logic/expand'
import { buildPlan, mergeStats } from './logic/plan'
import { prepareSearch, type SearchParams } from './logic/request'
import { respond } from './logic/respond'
import type { ShardResult } from './shard/search'

export async function runSearch(env: Env, tenant: string, index: SearchIndex, params: SearchParams) {
  const started = Date.now()
  const prepared = prepareSearch(params, index.config.settings)
  const shards = allShards(env, tenant, index)
  const query = {
    settings: prepared.settings,
    filter: prepared.filter,
    sort: prepared.sort,
    facets: prepared.facets,
    limit: prepared.shardLimit,
    distinct: prepared.distinct,
  }
  let results: ShardResult[]
  let candidates: Candidate[][]
  const [only] = shards
  if (shards.length === 1 && only) {
    const result = await only.searchAlone(prepared.parsed, prepared.strategy, query)
    results = [result]
    candidates = mergeExpansions([result.expansion.candidates], prepared.parsed.words.length)
  } else {
    const expansions = await Promise.all(
      shards.map((shard) => shard.expand(prepared.parsed, prepared.settings)),
    )
    const plan = buildPlan(
      prepared.parsed,
      expansions.map((expansion) => expansion.candidates),
      prepared.strategy,
    )
    const stats = mergeStats(expansions.map((expansion) => expansion.stats))
    results = await Promise.all(shards.map((shard) => shard.search({ ...query, plan, stats })))
    candidates = plan?.candidates ?? []
  }
  return respond(prepared, params, results, candidates, Date.now() - started)
}

/**
 * Scatter-gather search. With one shard, one call does both phases. With several: phase 1
 * asks every live shard to expand the query words over its vocabulary and report its
 * statistics; the coordinator unions the candidates and sums document counts, field
 * lengths and document frequencies; phase 2 asks every shard for its best
 * `offset + limit` hits ranked with those global numbers; the lists are merged. Scores are
 * therefore identical to a single-shard index holding the same documents.
 *
 * While the index grows (growth.ts), phase 1 also finds the live shards; a shard whose
 * layout changed between the phases (it sealed its split in between) makes the search
 * start again, at most `ATTEMPTS` times, so no document is missed or counted twice.
 */
import type { Env } from '../platform/env'
import { onLiveShards } from './growth'
import { type SearchIndex, shardStub } from './indexes'
import { type Candidate, mergeExpansions } from './logic/expand'
import { buildPlan, mergeStats } from './logic/plan'
import { type PreparedSearch, prepareSearch, type SearchParams } from './logic/request'
import { respond } from './logic/respond'
import type { ShardQuery, ShardResult } from './shard/search'

const ATTEMPTS = 3

type Gathered = { results: ShardResult[]; candidates: Candidate[][] }

async function gather(
  env: Env,
  tenant: string,
  index: SearchIndex,
  prepared: PreparedSearch,
  query: Omit<ShardQuery, 'plan' | 'stats'>,
  last: boolean,
): Promise<Gathered | null> {
  if (index.config.shards === 1) {
    const result = await shardStub(env, tenant, index.name, 0).searchAlone(
      prepared.parsed,
      prepared.strategy,
      query,
    )
    if ((result.layout ?? 1) <= 1)
      return {
        results: [result],
        candidates: mergeExpansions([result.expansion.candidates], prepared.parsed.words.length),
      }
  }
  const expansions = await onLiveShards(env, tenant, index, (shard) =>
    shard.expand(prepared.parsed, prepared.settings),
  )
  const plan = buildPlan(
    prepared.parsed,
    expansions.map(({ result }) => result.candidates),
    prepared.strategy,
  )
  const stats = mergeStats(expansions.map(({ result }) => result.stats))
  const distinctGroups = expansions.length > 1 && query.distinct !== null
  const results = await Promise.all(
    expansions.map(({ shard }) =>
      shardStub(env, tenant, index.name, shard).search({ ...query, plan, stats, distinctGroups }),
    ),
  )
  const moved = results.some((result, i) => result.layout !== expansions[i]?.result.layout)
  if (moved && !last) return null
  return { results, candidates: plan?.candidates ?? [] }
}

export async function runSearch(env: Env, tenant: string, index: SearchIndex, params: SearchParams) {
  const started = Date.now()
  const prepared = prepareSearch(params, index.config.settings)
  const query = {
    settings: prepared.settings,
    filter: prepared.filter,
    sort: prepared.sort,
    facets: prepared.facets,
    limit: prepared.shardLimit,
    distinct: prepared.distinct,
  }
  for (let attempt = 1; ; attempt++) {
    const gathered = await gather(env, tenant, index, prepared, query, attempt >= ATTEMPTS)
    if (gathered)
      return respond(prepared, params, gathered.results, gathered.candidates, Date.now() - started)
  }
}

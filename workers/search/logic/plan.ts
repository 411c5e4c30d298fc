/**
 * The query plan every shard ranks with: the parsed query, the merged candidates of each
 * word and the global statistics. Built by the coordinator from the shards' phase-1
 * answers; a single-shard index builds it from its one answer the same way.
 */
import { type Candidate, mergeExpansions } from './expand'
import type { ParsedQuery } from './query'
import type { GlobalStats, MatchingStrategy, RankPlan } from './rank'

export function mergeStats(parts: GlobalStats[]): GlobalStats {
  const fieldTotals: Record<string, number> = {}
  let docs = 0
  for (const part of parts) {
    docs += part.docs
    for (const [field, total] of Object.entries(part.fieldTotals))
      fieldTotals[field] = (fieldTotals[field] ?? 0) + total
  }
  return { docs, fieldTotals }
}

/** null when the query has nothing to match (a placeholder search). */
export function buildPlan(
  parsed: ParsedQuery,
  perShard: Candidate[][][],
  strategy: MatchingStrategy,
): RankPlan | null {
  if (parsed.words.length === 0 && parsed.negatedWords.length === 0 && parsed.negatedPhrases.length === 0)
    return null
  return {
    queryWords: parsed.words,
    candidates: mergeExpansions(perShard, parsed.words.length),
    phrases: parsed.phrases,
    negatedWords: parsed.negatedWords,
    negatedPhrases: parsed.negatedPhrases,
    strategy,
  }
}

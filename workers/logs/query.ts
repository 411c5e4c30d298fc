/**
 * Queries from the Worker's side: parse the LogQL, find the shards of the time range in the
 * tenant's directory, ask them all in parallel and merge their partial answers into Loki's
 * result shapes. Also the label, label-values and series listings.
 *
 * Guarantees: every shard holding lines of the range is asked (the directory lists them);
 * the merge is exact (see evaluate.ts). Cost: one directory call and one call per shard,
 * at most MAX_SHARDS_PER_QUERY (a longer range is refused, not silently cut).
 */

import { LOGS_LIMITS } from '../../schemas/logs'
import type { Env } from '../platform/env'
import { dayOf } from './entries'
import {
  type LogLine,
  type LokiStream,
  type MetricPartial,
  type MetricResult,
  mergeLogs,
  mergeMetric,
  type Steps,
  stepCount,
} from './evaluate'
import { shardStub, tenantDirectory } from './ingest'
import { type LogQuery, logQueryOf, type Query, rangeOf } from './logql/ast'
import { LogQLError, parseLogQL } from './logql/parser'
import type { ShardKey } from './tenant-object'

export const MAX_SHARDS_PER_QUERY = 512

export interface QueryInput {
  query: string
  /** ns since the epoch: start inclusive, end exclusive (for instant queries both are the time). */
  startNs: bigint
  endNs: bigint
  limit: number
  descending: boolean
  stepMs: number
  instant: boolean
}

export type QueryResult = { resultType: 'streams'; result: LokiStream[] } | MetricResult

const NS_PER_MS = 1_000_000n

async function shardsFor(env: Env, tenant: string, fromMs: number, toMs: number): Promise<ShardKey[]> {
  const keys = (await tenantDirectory(env, tenant).shardsBetween(
    dayOf(Math.max(0, fromMs)),
    dayOf(Math.max(0, toMs)),
  )) as unknown as ShardKey[]
  if (keys.length > MAX_SHARDS_PER_QUERY) {
    throw new LogQLError(
      `the time range covers ${keys.length} shards, over the ${MAX_SHARDS_PER_QUERY} a query may read; narrow it`,
    )
  }
  return keys
}

export function parseQuery(text: string): Query {
  if (text.length > LOGS_LIMITS.maxQueryLength)
    throw new LogQLError(`the query is over ${LOGS_LIMITS.maxQueryLength} characters`)
  return parseLogQL(text)
}

export async function runQuery(env: Env, tenant: string, input: QueryInput): Promise<QueryResult> {
  const query = parseQuery(input.query)
  if (query.type === 'log') {
    const startNs = input.instant ? input.endNs - 3_600_000_000_000n : input.startNs
    const fromMs = Number(startNs / NS_PER_MS)
    const toMs = Number(input.endNs / NS_PER_MS)
    const keys = await shardsFor(env, tenant, fromMs, toMs)
    const answers: LogLine[][] = await Promise.all(
      keys.map(([day, shard]) =>
        shardStub(env, tenant, day, shard).queryLogs({
          query,
          startNs: startNs.toString(),
          endNs: input.endNs.toString(),
          limit: input.limit,
          descending: input.descending,
        }),
      ),
    )
    return { resultType: 'streams', result: mergeLogs(answers, input.limit, input.descending) }
  }
  const range = rangeOf(query)
  const endMs = Number(input.endNs / NS_PER_MS)
  const steps: Steps = input.instant
    ? { startMs: endMs, endMs, stepMs: 1 }
    : { startMs: Number(input.startNs / NS_PER_MS), endMs, stepMs: input.stepMs }
  if (stepCount(steps) > LOGS_LIMITS.maxPoints) {
    throw new LogQLError(
      `exceeded maximum resolution of ${LOGS_LIMITS.maxPoints} points per series; raise the step`,
    )
  }
  const keys = await shardsFor(env, tenant, steps.startMs - range.rangeMs, steps.endMs)
  const partials: MetricPartial[][] = await Promise.all(
    keys.map(
      ([day, shard]) =>
        shardStub(env, tenant, day, shard).queryMetric({
          query: logQueryOf(query),
          rangeMs: range.rangeMs,
          steps,
        }) as unknown as Promise<MetricPartial[]>,
    ),
  )
  return mergeMetric(query, partials, steps, input.instant)
}

/** Label sets of the streams with lines in the range, matching any of `selectors` (all without). */
export async function listSeries(
  env: Env,
  tenant: string,
  fromMs: number,
  toMs: number,
  selectors: string[],
): Promise<Array<Record<string, string>>> {
  const queries: Array<LogQuery | undefined> =
    selectors.length === 0 ? [undefined] : selectors.map((s) => logQueryOf(parseQuery(s)))
  const keys = await shardsFor(env, tenant, fromMs, toMs)
  const found = new Map<string, Record<string, string>>()
  const answers = await Promise.all(
    keys.flatMap(([day, shard]) => queries.map((q) => shardStub(env, tenant, day, shard).series(q))),
  )
  for (const labels of answers.flat()) found.set(JSON.stringify(Object.entries(labels).sort()), labels)
  return [...found.values()].sort((a, b) =>
    JSON.stringify(Object.entries(a).sort()).localeCompare(JSON.stringify(Object.entries(b).sort())),
  )
}

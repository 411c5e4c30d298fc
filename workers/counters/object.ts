/**
 * The counters block's Durable Objects and how routes address them: a counter is N
 * `CounterShard`s named `<tenant>:counter:<name>#<i>` and one `CounterAggregator` named
 * `<tenant>:counter:<name>`.
 */
import type { Env } from '../platform/env'
import { objectStub } from '../platform/tenancy'
import type { CounterAggregator } from './aggregator-object'
import type { CounterShard, ShardAddress } from './shard-object'
import type { CounterIdentity } from './storage'

export { CounterAggregator } from './aggregator-object'
export { CounterShard } from './shard-object'

export const COUNTER_KIND = 'counter'

export function shardAddress(identity: CounterIdentity, shard: number): ShardAddress {
  return { tenant: identity.tenant, name: identity.name, incarnation: identity.incarnation, shard }
}

export function shardStub(
  env: Env,
  identity: CounterIdentity,
  shard: number,
): DurableObjectStub<CounterShard> {
  return objectStub(env.COUNTER_SHARDS, identity.tenant, COUNTER_KIND, identity.name, shard)
}

export function aggregatorStub(env: Env, tenant: string, name: string): DurableObjectStub<CounterAggregator> {
  return objectStub(env.COUNTER_AGGREGATORS, tenant, COUNTER_KIND, name)
}

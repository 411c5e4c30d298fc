/**
 * The cluster: N cache nodes on the platform's consistent-hash ring, and the plan for each
 * command of a request. Pure: the nodes are reached through the `NodeClient` it is given.
 *
 * Guarantees:
 * - A key's node is the ring owner of its slot key (placement.ts: hash tags as in Redis
 *   Cluster); reads of hot keys may be served by replicas (hot-keys.ts).
 * - A pipeline runs in order per node; commands on different nodes run in parallel, and a
 *   command spanning nodes (MGET, MSET, DEL, EXISTS, DBSIZE, FLUSHDB) waits for what came
 *   before it and fans out to the owners in parallel, its reply merged in argument order.
 * - MULTI/EXEC runs on one node as one synchronous batch (atomic); commands whose keys
 *   live on different nodes are refused with CROSSSLOT, a queued command with a bad name
 *   or arity with EXECABORT, before anything runs.
 * - SCAN walks node 0, 1, … in each node's hash order; the cursor is node·2^32 + position.
 * Costs: one ring lookup (O(log(N·vnodes))) per key; one node call per node per segment.
 */

import type { NodeClient, Replication } from './cluster-client'
import { CROSSSLOT, keysOf, lookupCommand, type Outcome, RedisError, type Reply } from './commands'
import { dropCopies, replicatedGet } from './hot-keys'
import type { NodeStats } from './keyspace'
import { nodeOf } from './placement'

const CLUSTER_WIDE = new Set(['PING', 'ECHO', 'DBSIZE', 'FLUSHDB', 'SCAN', 'INFO'])
const FAN_OUT = new Set(['MGET', 'MSET', 'DEL', 'UNLINK', 'EXISTS'])

type Step = { node: number; args: string[] } | { run: (client: NodeClient) => Promise<Outcome> }

function error(message: string): Outcome {
  return { error: message }
}

/** How one command runs: on one node, or as its own step across nodes. */
export function plan(args: string[], nodes: number, replication?: Replication): Step {
  const name = (args[0] ?? '').toUpperCase()
  if (replication && replication.replicas > 1 && name === 'GET' && args.length === 2) {
    const key = args[1] as string
    if (replication.observe(key)) return { run: (client) => replicatedGet(client, nodes, key, replication) }
  }
  if (name === 'INFO') return { run: (client) => info(client, nodes) }
  let spec: ReturnType<typeof lookupCommand>['spec']
  try {
    spec = lookupCommand(args).spec
  } catch (thrown) {
    const message = thrown instanceof RedisError ? thrown.message : String(thrown)
    return { run: async () => error(message) }
  }
  if (name === 'PING' || name === 'ECHO') return { node: 0, args }
  if (name === 'DBSIZE') return { run: (client) => sumOver(client, nodes, args) }
  if (name === 'FLUSHDB') return { run: (client) => flushAll(client, nodes, args) }
  if (name === 'SCAN') return { run: (client) => scan(client, nodes, args) }
  const keys = keysOf(spec, args)
  const owners = keys.map((key) => nodeOf(key, nodes))
  const first = owners[0] ?? 0
  if (
    replication &&
    replication.replicas > 1 &&
    (spec.write || spec.grows) &&
    keys.some((key) => replication.isHot(key))
  ) {
    return {
      run: async (client) => {
        const outcome = owners.every((owner) => owner === first)
          ? ((await client.run(first, [args]))[0] as Outcome)
          : FAN_OUT.has(name)
            ? await fanOut(client, name, args, owners)
            : error(CROSSSLOT)
        await dropCopies(client, nodes, keys, replication)
        return outcome
      },
    }
  }
  if (owners.every((owner) => owner === first)) return { node: first, args }
  if (!FAN_OUT.has(name)) return { run: async () => error(CROSSSLOT) }
  return { run: (client) => fanOut(client, name, args, owners) }
}

async function fanOut(client: NodeClient, name: string, args: string[], owners: number[]): Promise<Outcome> {
  const stride = name === 'MSET' ? 2 : 1
  const byNode = new Map<number, number[]>()
  for (const [i, owner] of owners.entries()) byNode.set(owner, [...(byNode.get(owner) ?? []), i])
  const parts = await Promise.all(
    [...byNode].map(async ([node, positions]) => {
      const sub = [
        args[0] as string,
        ...positions.flatMap((i) => args.slice(1 + i * stride, 1 + (i + 1) * stride)),
      ]
      const [outcome] = await client.run(node, [sub])
      return { positions, outcome: outcome as Outcome }
    }),
  )
  const failed = parts.find((part) => 'error' in part.outcome)
  if (failed) return failed.outcome
  if (name === 'MSET') return { result: 'OK' }
  if (name === 'MGET') {
    const merged: Reply[] = new Array(owners.length).fill(null)
    for (const { positions, outcome } of parts) {
      const values = (outcome as { result: Reply[] }).result
      positions.forEach((position, i) => {
        merged[position] = values[i] ?? null
      })
    }
    return { result: merged }
  }
  return { result: parts.reduce((sum, part) => sum + Number((part.outcome as { result: number }).result), 0) }
}

async function everyNode(client: NodeClient, nodes: number, args: string[]): Promise<Outcome[]> {
  return (await Promise.all(Array.from({ length: nodes }, (_, node) => client.run(node, [args])))).map(
    (outcomes) => outcomes[0] as Outcome,
  )
}

async function flushAll(client: NodeClient, nodes: number, args: string[]): Promise<Outcome> {
  return (await everyNode(client, nodes, args)).find((o) => 'error' in o) ?? { result: 'OK' }
}

async function sumOver(client: NodeClient, nodes: number, args: string[]): Promise<Outcome> {
  const outcomes = await everyNode(client, nodes, args)
  return (
    outcomes.find((o) => 'error' in o) ?? {
      result: outcomes.reduce((s, o) => s + Number((o as { result: number }).result), 0),
    }
  )
}

async function scan(client: NodeClient, nodes: number, args: string[]): Promise<Outcome> {
  const raw = args[1] as string
  if (!/^\d{1,16}$/.test(raw)) return error('ERR invalid cursor')
  const cursor = Number(raw)
  const node = Math.floor(cursor / 2 ** 32)
  if (node >= nodes) return error('ERR invalid cursor')
  const position = cursor % 2 ** 32
  const [outcome] = await client.run(node, [['SCAN', String(position), ...args.slice(2)]])
  if (!outcome || 'error' in outcome) return outcome ?? error('ERR node unavailable')
  const [nextRaw, keys] = outcome.result as [string, string[]]
  const next = Number(nextRaw)
  const nextCursor = next !== 0 ? node * 2 ** 32 + next : node + 1 < nodes ? (node + 1) * 2 ** 32 : 0
  return { result: [String(nextCursor), keys] }
}

async function info(client: NodeClient, nodes: number): Promise<Outcome> {
  const stats = await Promise.all(Array.from({ length: nodes }, (_, node) => client.stats(node)))
  const total = (pick: (s: NodeStats) => number) => stats.reduce((sum, s) => sum + pick(s), 0)
  const lines = [
    '# Server',
    'redis_version:7.0.0-edgeblocks',
    'redis_mode:cluster',
    `cluster_nodes:${nodes}`,
    '',
    '# Memory',
    `used_memory:${total((s) => s.usedMemory)}`,
    `maxmemory:${total((s) => s.maxmemory)}`,
    `maxmemory_policy:${stats[0]?.policy === 'lru' ? 'allkeys-lru' : stats[0]?.policy === 'lfu' ? 'allkeys-lfu' : stats[0]?.policy}`,
    '',
    '# Stats',
    `keyspace_hits:${total((s) => s.hits)}`,
    `keyspace_misses:${total((s) => s.misses)}`,
    `evicted_keys:${total((s) => s.evictions)}`,
    `expired_keys:${total((s) => s.expired)}`,
    '',
    '# Keyspace',
    `db0:keys=${total((s) => s.keys)}`,
    '',
    '# Nodes',
    ...stats.map(
      (s, i) =>
        `node${i}:keys=${s.keys},used_memory=${s.usedMemory},hits=${s.hits},misses=${s.misses},evicted=${s.evictions},expired=${s.expired}`,
    ),
  ]
  return { result: `${lines.join('\r\n')}\r\n` }
}

/**
 * A client over which a node that cannot be reached (after the client's own retry) is
 * skipped for reads, GET and MGET answering misses as a cache may, while every other
 * command answers TRYAGAIN; the node is repopulated by later writes once it is back.
 */
export function skippingUnreachable(client: NodeClient): NodeClient {
  return {
    ...client,
    async run(node, commands) {
      try {
        return await client.run(node, commands)
      } catch {
        return commands.map(([name, ...args]) => {
          const command = name?.toUpperCase()
          if (command === 'GET') return { result: null }
          if (command === 'MGET') return { result: args.map(() => null) }
          return error(`TRYAGAIN node ${node} is unreachable; the command may not have run`)
        })
      }
    },
  }
}

/** A pipeline: in order per node, parallel across nodes, multi-node commands as barriers. */
export async function runPipeline(
  client: NodeClient,
  nodes: number,
  commands: string[][],
  replication?: Replication,
): Promise<Outcome[]> {
  const outcomes: Outcome[] = new Array(commands.length)
  let batch = new Map<number, number[]>()
  const flush = async () => {
    const pending = batch
    batch = new Map()
    await Promise.all(
      [...pending].map(async ([node, indexes]) => {
        const results = await client.run(
          node,
          indexes.map((i) => commands[i] as string[]),
        )
        indexes.forEach((index, j) => {
          outcomes[index] = results[j] ?? error('ERR node unavailable')
        })
      }),
    )
  }
  for (let i = 0; i < commands.length; i++) {
    const step = plan(commands[i] as string[], nodes, replication)
    if ('node' in step) {
      batch.set(step.node, [...(batch.get(step.node) ?? []), i])
      continue
    }
    await flush()
    outcomes[i] = await step.run(client)
  }
  await flush()
  return outcomes
}

/** MULTI/EXEC: every command checked first, then all on one node in one batch. */
export async function runTransaction(
  client: NodeClient,
  nodes: number,
  commands: string[][],
): Promise<Outcome[]> {
  return client.run(transactionNode(commands, nodes), commands)
}

/** The one node a transaction runs on; throws CROSSSLOT or EXECABORT when there is none. */
export function transactionNode(commands: string[][], nodes: number): number {
  let target: number | undefined
  for (const args of commands) {
    const name = (args[0] ?? '').toUpperCase()
    let spec: ReturnType<typeof lookupCommand>['spec']
    try {
      spec = lookupCommand(args).spec
    } catch {
      throw new RedisError('EXECABORT Transaction discarded because of previous errors.')
    }
    if (CLUSTER_WIDE.has(name) && name !== 'PING' && name !== 'ECHO' && nodes > 1)
      throw new RedisError(CROSSSLOT)
    for (const key of keysOf(spec, args)) {
      const owner = nodeOf(key, nodes)
      if (target !== undefined && owner !== target) throw new RedisError(CROSSSLOT)
      target = owner
    }
  }
  return target ?? 0
}

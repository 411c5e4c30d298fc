/**
 * The command table and the executor a cache node runs. Each command has Redis's arity
 * (positive: exact, negative: at least), where its keys are (for routing and CROSSSLOT),
 * and whether it may grow memory (then it is refused with OOM when the node is over
 * budget and its policy has nothing left to evict, changing nothing).
 *
 * `execute` runs one command to a reply or a Redis error string; `executeAll` runs a batch
 * in order, synchronously, so a batch on one node is atomic (MULTI/EXEC). Cluster-wide
 * commands (PING, ECHO, DBSIZE, FLUSHDB, SCAN, INFO) are planned by cluster.ts and reach a
 * node as node-local commands.
 */
import type { Keyspace } from '../keyspace'
import { arityError, type Context, OOM, RedisError, type Reply } from './args'
import * as hl from './hashes-lists'
import { type Leases, leasedrop, leaseget, leaseset } from './leases'
import * as sets from './sets'
import * as strings from './strings'

export { CROSSSLOT, OOM, RedisError, type Reply, WRONGTYPE } from './args'

export interface NodeContext extends Context {
  leases: Leases
}

export interface CommandSpec {
  arity: number
  /** Positions of keys: first, last (−1: through the end), step; undefined: no keys. */
  keys?: [number, number, number]
  /** May add memory: refused with OOM when over budget and nothing can be evicted. */
  grows?: boolean
  /** Changes data: revokes the leases of its keys. */
  write?: boolean
  run: (ctx: NodeContext, args: string[]) => Reply
}

const one: [number, number, number] = [1, 1, 1]
const all: [number, number, number] = [1, -1, 1]
const read = (arity: number, run: CommandSpec['run'], keys = one): CommandSpec => ({ arity, keys, run })
const write = (arity: number, run: CommandSpec['run'], keys = one): CommandSpec => ({
  arity,
  keys,
  write: true,
  run,
})
const grow = (arity: number, run: CommandSpec['run'], keys = one): CommandSpec => ({
  arity,
  keys,
  write: true,
  grows: true,
  run,
})

export const COMMANDS: Record<string, CommandSpec> = {
  SET: grow(-3, strings.set),
  GET: read(2, strings.get),
  MGET: read(-2, strings.mget, all),
  MSET: grow(-3, strings.mset, [1, -1, 2]),
  DEL: write(-2, strings.del, all),
  UNLINK: write(-2, strings.del, all),
  EXISTS: read(-2, strings.exists, all),
  TYPE: read(2, strings.type),
  EXPIRE: write(-3, strings.expire),
  PEXPIRE: write(-3, strings.pexpire),
  TTL: read(2, strings.ttl),
  PTTL: read(2, strings.pttl),
  PERSIST: write(2, strings.persist),
  INCR: grow(2, strings.incr),
  INCRBY: grow(3, strings.incrby),
  DECR: grow(2, strings.decr),
  DECRBY: grow(3, strings.decrby),
  INCRBYFLOAT: grow(3, strings.incrbyfloat),
  APPEND: grow(3, strings.append),
  GETDEL: write(2, strings.getdel),
  GETEX: write(-2, strings.getex),
  HSET: grow(-4, hl.hset),
  HGET: read(3, hl.hget),
  HMGET: read(-3, hl.hmget),
  HGETALL: read(2, hl.hgetall),
  HEXISTS: read(3, hl.hexists),
  HLEN: read(2, hl.hlen),
  HDEL: write(-3, hl.hdel),
  HINCRBY: grow(4, hl.hincrby),
  LPUSH: grow(-3, hl.lpush),
  RPUSH: grow(-3, hl.rpush),
  LPOP: write(-2, hl.lpop),
  RPOP: write(-2, hl.rpop),
  LRANGE: read(4, hl.lrange),
  LLEN: read(2, hl.llen),
  SADD: grow(-3, sets.sadd),
  SREM: write(-3, sets.srem),
  SMEMBERS: read(2, sets.smembers),
  SISMEMBER: read(3, sets.sismember),
  SCARD: read(2, sets.scard),
  ZADD: grow(-4, sets.zadd),
  ZRANGE: read(-4, sets.zrange),
  ZRANK: read(-3, sets.zrank),
  ZREM: write(-3, sets.zrem),
  ZINCRBY: grow(4, sets.zincrby),
  ZSCORE: read(3, sets.zscore),
  ZCARD: read(2, sets.zcard),
  LEASEGET: { arity: -3, keys: one, run: leaseget },
  LEASESET: { arity: -4, keys: one, grows: true, run: leaseset },
  LEASEDROP: { arity: 3, keys: one, run: leasedrop },
  // Node-local forms of the cluster-wide commands (cluster.ts fans them out).
  PING: { arity: -1, run: (_ctx, args) => args[0] ?? 'PONG' },
  ECHO: { arity: 2, run: (_ctx, args) => args[0] as string },
  DBSIZE: { arity: 1, run: (ctx) => ctx.ks.entries.size },
  FLUSHDB: { arity: -1, write: true, run: flushdb },
  SCAN: { arity: -2, run: scan },
}

function flushdb(ctx: NodeContext, args: string[]): Reply {
  if (args.length > 1 || (args[0] !== undefined && !/^(a?sync)$/i.test(args[0])))
    throw new RedisError('ERR syntax error')
  ctx.ks.flush()
  ctx.leases.clear()
  return 'OK'
}

/** Node-local SCAN: the cursor is a position in the node's hash order (0 = start and done). */
function scan(ctx: NodeContext, args: string[]): Reply {
  const position = Number(args[0])
  if (!/^\d+$/.test(args[0] as string) || position >= 2 ** 32) throw new RedisError('ERR invalid cursor')
  let count = 10
  let match: string | undefined
  let type: string | undefined
  for (let i = 1; i < args.length; i += 2) {
    const word = args[i]?.toUpperCase()
    const value = args[i + 1]
    if (value === undefined) throw new RedisError('ERR syntax error')
    if (word === 'COUNT') {
      count = Number(value)
      if (!/^\d+$/.test(value) || count < 1)
        throw new RedisError('ERR value is not an integer or out of range')
    } else if (word === 'MATCH') match = value
    else if (word === 'TYPE') type = value.toLowerCase()
    else throw new RedisError('ERR syntax error')
  }
  const [next, keys] = ctx.ks.scan(position, count, ctx.now, match, type)
  return [next >= 2 ** 32 ? '0' : String(next), keys]
}

/** The uppercase name and spec of a command, or the Redis error for an unknown one / bad arity. */
export function lookupCommand(args: string[]): { name: string; spec: CommandSpec } {
  const name = (args[0] ?? '').toUpperCase()
  const spec = COMMANDS[name]
  if (!spec) {
    const rest = args
      .slice(1, 21)
      .map((arg) => `'${arg.slice(0, 128)}' `)
      .join('')
    throw new RedisError(
      `ERR unknown command '${(args[0] ?? '').slice(0, 128)}', with args beginning with: ${rest}`,
    )
  }
  if (spec.arity > 0 ? args.length !== spec.arity : args.length < -spec.arity) throw arityError(name)
  return { name, spec }
}

/** The keys a command touches (by its spec), for routing. */
export function keysOf(spec: CommandSpec, args: string[]): string[] {
  if (!spec.keys) return []
  const [first, last, step] = spec.keys
  const end = last < 0 ? args.length + last : last
  const keys: string[] = []
  for (let i = first; i <= end && i < args.length; i += step) keys.push(args[i] as string)
  return keys
}

export type Outcome = { result: Reply } | { error: string }

export function execute(ctx: NodeContext, args: string[]): Outcome {
  try {
    const { spec } = lookupCommand(args)
    if (spec.grows && !ctx.ks.makeRoom(ctx.now)) throw new RedisError(OOM)
    const result = spec.run(ctx, args.slice(1))
    if (spec.write) for (const key of keysOf(spec, args)) ctx.leases.revoke(key)
    return { result }
  } catch (error) {
    if (error instanceof RedisError) return { error: error.message }
    throw error
  }
}

/** Runs commands in order; one synchronous step, so nothing interleaves with the batch. */
export function executeAll(ctx: NodeContext, commands: string[][]): Outcome[] {
  return commands.map((args) => execute(ctx, args))
}

export function newContext(ks: Keyspace, leases: Leases, now: number, random: () => number): NodeContext {
  return { ks, leases, now, random }
}

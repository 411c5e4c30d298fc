/**
 * Hash and list commands: HSET, HGET, HMGET, HGETALL, HDEL, HINCRBY, HEXISTS, HLEN;
 * LPUSH, RPUSH, LPOP, RPOP (with COUNT), LRANGE, LLEN. Redis semantics: a collection that
 * becomes empty is deleted; arguments are checked before anything changes. Hash commands
 * are O(fields touched); LPUSH/LPOP shift the array, O(list length).
 */
import {
  addInt64,
  type Context,
  collection,
  parseBigInt,
  parseInteger,
  RedisError,
  type Reply,
  removeMembers,
  typed,
} from './args'

export function hset(ctx: Context, args: string[]): Reply {
  const [key, ...pairs] = args as [string, ...string[]]
  if (pairs.length === 0 || pairs.length % 2 !== 0)
    throw new RedisError("ERR wrong number of arguments for 'hset' command")
  const entry = collection(ctx, key, 'hash', () => new Map())
  let added = 0
  for (let i = 0; i < pairs.length; i += 2) {
    if (!entry.value.data.has(pairs[i] as string)) added++
    entry.value.data.set(pairs[i] as string, pairs[i + 1] as string)
  }
  ctx.ks.changed(key, entry)
  return added
}

export function hget(ctx: Context, args: string[]): Reply {
  return typed(ctx.ks.read(args[0] as string, ctx.now), 'hash')?.value.data.get(args[1] as string) ?? null
}

export function hmget(ctx: Context, args: string[]): Reply {
  const hash = typed(ctx.ks.read(args[0] as string, ctx.now), 'hash')?.value.data
  return args.slice(1).map((field) => hash?.get(field) ?? null)
}

export function hgetall(ctx: Context, args: string[]): Reply {
  const hash = typed(ctx.ks.read(args[0] as string, ctx.now), 'hash')?.value.data
  return hash ? [...hash].flat() : []
}

export function hexists(ctx: Context, args: string[]): Reply {
  return typed(ctx.ks.read(args[0] as string, ctx.now), 'hash')?.value.data.has(args[1] as string) ? 1 : 0
}

export function hlen(ctx: Context, args: string[]): Reply {
  return typed(ctx.ks.read(args[0] as string, ctx.now), 'hash')?.value.data.size ?? 0
}

export const hdel = (ctx: Context, args: string[]) => removeMembers(ctx, args, 'hash')

export function hincrby(ctx: Context, args: string[]): Reply {
  const [key, field, raw] = args as [string, string, string]
  const by = parseBigInt(raw)
  const existing = typed(ctx.ks.write(key, ctx.now), 'hash')
  const currentText = existing?.value.data.get(field)
  const current =
    currentText === undefined ? 0n : parseBigInt(currentText, 'ERR hash value is not an integer')
  const next = addInt64(current, by)
  const entry = existing ?? collection(ctx, key, 'hash', () => new Map())
  entry.value.data.set(field, next.toString())
  ctx.ks.changed(key, entry)
  return Number(next)
}

function push(ctx: Context, args: string[], left: boolean): Reply {
  const [key, ...items] = args as [string, ...string[]]
  const entry = collection(ctx, key, 'list', () => [])
  if (left) for (const item of items) entry.value.data.unshift(item)
  else entry.value.data.push(...items)
  ctx.ks.changed(key, entry)
  return entry.value.data.length
}

export const lpush = (ctx: Context, args: string[]) => push(ctx, args, true)
export const rpush = (ctx: Context, args: string[]) => push(ctx, args, false)

function pop(ctx: Context, args: string[], left: boolean): Reply {
  const key = args[0] as string
  if (args.length > 2) throw new RedisError('ERR syntax error')
  let count: number | undefined
  if (args[1] !== undefined) {
    count = parseInteger(args[1], 'ERR value is out of range, must be positive')
    if (count < 0) throw new RedisError('ERR value is out of range, must be positive')
  }
  const entry = typed(ctx.ks.write(key, ctx.now), 'list')
  if (!entry) return null
  const list = entry.value.data
  const taken = left
    ? list.splice(0, count ?? 1)
    : list.splice(Math.max(0, list.length - (count ?? 1))).reverse()
  ctx.ks.changed(key, entry)
  return count === undefined ? (taken[0] ?? null) : taken
}

export const lpop = (ctx: Context, args: string[]) => pop(ctx, args, true)
export const rpop = (ctx: Context, args: string[]) => pop(ctx, args, false)

/** Redis's start/stop with negative indexes from the end, clamped; undefined when empty. */
export function rangeOf(length: number, startRaw: string, stopRaw: string): [number, number] | undefined {
  let start = parseInteger(startRaw)
  let stop = parseInteger(stopRaw)
  if (start < 0) start = Math.max(0, length + start)
  if (stop < 0) stop = length + stop
  if (stop >= length) stop = length - 1
  return start > stop || start >= length ? undefined : [start, stop]
}

export function lrange(ctx: Context, args: string[]): Reply {
  const list = typed(ctx.ks.read(args[0] as string, ctx.now), 'list')?.value.data ?? []
  const range = rangeOf(list.length, args[1] as string, args[2] as string)
  return range ? list.slice(range[0], range[1] + 1) : []
}

export function llen(ctx: Context, args: string[]): Reply {
  return typed(ctx.ks.read(args[0] as string, ctx.now), 'list')?.value.data.length ?? 0
}

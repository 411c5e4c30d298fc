/**
 * Set and sorted-set commands: SADD, SREM, SMEMBERS, SISMEMBER, SCARD; ZADD (NX/XX, GT/LT,
 * CH, INCR), ZRANGE (by rank or BYSCORE, REV, LIMIT, WITHSCORES), ZRANK (WITHSCORE), ZREM,
 * ZINCRBY, ZSCORE, ZCARD. Sorted sets are a member → score Map, ordered by (score, member)
 * when read: ZRANGE and ZRANK cost O(n log n); writes O(1) per member.
 */

import {
  type Context,
  collection,
  formatDouble,
  parseDouble,
  parseInteger,
  RedisError,
  type Reply,
  removeMembers,
  SYNTAX,
  typed,
} from './args'
import { rangeOf } from './hashes-lists'

export function sadd(ctx: Context, args: string[]): Reply {
  const [key, ...members] = args as [string, ...string[]]
  const entry = collection(ctx, key, 'set', () => new Set())
  const before = entry.value.data.size
  for (const member of members) entry.value.data.add(member)
  ctx.ks.changed(key, entry)
  return entry.value.data.size - before
}

export const srem = (ctx: Context, args: string[]) => removeMembers(ctx, args, 'set')

export function smembers(ctx: Context, args: string[]): Reply {
  return [...(typed(ctx.ks.read(args[0] as string, ctx.now), 'set')?.value.data ?? [])]
}

export function sismember(ctx: Context, args: string[]): Reply {
  return typed(ctx.ks.read(args[0] as string, ctx.now), 'set')?.value.data.has(args[1] as string) ? 1 : 0
}

export function scard(ctx: Context, args: string[]): Reply {
  return typed(ctx.ks.read(args[0] as string, ctx.now), 'set')?.value.data.size ?? 0
}

export function zadd(ctx: Context, args: string[]): Reply {
  const key = args[0] as string
  const flags = new Set<string>()
  let i = 1
  for (; i < args.length; i++) {
    const word = (args[i] as string).toUpperCase()
    if (!['NX', 'XX', 'GT', 'LT', 'CH', 'INCR'].includes(word)) break
    flags.add(word)
  }
  const pairs = args.slice(i)
  if (pairs.length === 0 || pairs.length % 2 !== 0) throw new RedisError(SYNTAX)
  if (flags.has('NX') && flags.has('XX'))
    throw new RedisError('ERR XX and NX options at the same time are not compatible')
  if ((flags.has('GT') && flags.has('LT')) || (flags.has('NX') && (flags.has('GT') || flags.has('LT'))))
    throw new RedisError('ERR GT, LT, and/or NX options at the same time are not compatible')
  if (flags.has('INCR') && pairs.length !== 2)
    throw new RedisError('ERR INCR option supports a single increment-element pair')
  const scores = pairs.filter((_, j) => j % 2 === 0).map((raw) => parseDouble(raw))
  const existing = typed(ctx.ks.write(key, ctx.now), 'zset')
  if (!existing && flags.has('XX')) return flags.has('INCR') ? null : 0
  const entry = existing ?? collection(ctx, key, 'zset', () => new Map())
  const zset = entry.value.data
  let added = 0
  let changed = 0
  let incrResult: Reply = null
  for (let j = 0; j < scores.length; j++) {
    const member = pairs[2 * j + 1] as string
    const old = zset.get(member)
    if ((flags.has('NX') && old !== undefined) || (flags.has('XX') && old === undefined)) continue
    let score = scores[j] as number
    if (flags.has('INCR')) {
      score = (old ?? 0) + score
      if (Number.isNaN(score)) throw new RedisError('ERR resulting score is not a number (NaN)')
    }
    if (old !== undefined && ((flags.has('GT') && score <= old) || (flags.has('LT') && score >= old)))
      continue
    if (old === undefined) added++
    else if (old !== score) changed++
    zset.set(member, score)
    incrResult = formatDouble(score)
  }
  ctx.ks.changed(key, entry)
  if (flags.has('INCR')) return incrResult
  return flags.has('CH') ? added + changed : added
}

function ordered(zset: Map<string, number>): Array<[string, number]> {
  return [...zset].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
}

function scoreBound(raw: string): { value: number; exclusive: boolean } {
  const exclusive = raw.startsWith('(')
  const value = parseDouble(exclusive ? raw.slice(1) : raw, 'ERR min or max is not a float')
  return { value, exclusive }
}

export function zrange(ctx: Context, args: string[]): Reply {
  const [key, startRaw, stopRaw] = args as [string, string, string]
  let byScore = false
  let rev = false
  let withScores = false
  let limit: [number, number] | undefined
  for (let i = 3; i < args.length; i++) {
    const word = (args[i] as string).toUpperCase()
    if (word === 'BYSCORE') byScore = true
    else if (word === 'REV') rev = true
    else if (word === 'WITHSCORES') withScores = true
    else if (word === 'LIMIT' && args[i + 2] !== undefined) {
      limit = [parseInteger(args[i + 1] as string), parseInteger(args[i + 2] as string)]
      i += 2
    } else throw new RedisError(SYNTAX)
  }
  if (limit && !byScore)
    throw new RedisError(
      'ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX',
    )
  const zset = typed(ctx.ks.read(key, ctx.now), 'zset')?.value.data
  let items = ordered(zset ?? new Map())
  if (rev) items.reverse()
  if (byScore) {
    // With REV the first bound is the maximum, as in Redis.
    const [lowRaw, highRaw] = rev ? [stopRaw, startRaw] : [startRaw, stopRaw]
    const low = scoreBound(lowRaw)
    const high = scoreBound(highRaw)
    items = items.filter(
      ([, score]) =>
        (low.exclusive ? score > low.value : score >= low.value) &&
        (high.exclusive ? score < high.value : score <= high.value),
    )
    if (limit)
      items = limit[0] < 0 ? [] : items.slice(limit[0], limit[1] < 0 ? undefined : limit[0] + limit[1])
  } else {
    const range = rangeOf(items.length, startRaw, stopRaw)
    items = range ? items.slice(range[0], range[1] + 1) : []
  }
  return withScores
    ? items.flatMap(([member, score]) => [member, formatDouble(score)])
    : items.map(([member]) => member)
}

export function zrank(ctx: Context, args: string[]): Reply {
  const [key, member, option] = args as [string, string, string | undefined]
  if (option !== undefined && option.toUpperCase() !== 'WITHSCORE') throw new RedisError(SYNTAX)
  const zset = typed(ctx.ks.read(key, ctx.now), 'zset')?.value.data
  const score = zset?.get(member)
  if (!zset || score === undefined) return null
  const rank = ordered(zset).findIndex(([m]) => m === member)
  return option ? [rank, formatDouble(score)] : rank
}

export const zrem = (ctx: Context, args: string[]) => removeMembers(ctx, args, 'zset')

export function zincrby(ctx: Context, args: string[]): Reply {
  const [key, raw, member] = args as [string, string, string]
  const by = parseDouble(raw)
  const entry = collection(ctx, key, 'zset', () => new Map())
  const score = (entry.value.data.get(member) ?? 0) + by
  if (Number.isNaN(score)) {
    ctx.ks.changed(key, entry)
    throw new RedisError('ERR resulting score is not a number (NaN)')
  }
  entry.value.data.set(member, score)
  ctx.ks.changed(key, entry)
  return formatDouble(score)
}

export function zscore(ctx: Context, args: string[]): Reply {
  const score = typed(ctx.ks.read(args[0] as string, ctx.now), 'zset')?.value.data.get(args[1] as string)
  return score === undefined ? null : formatDouble(score)
}

export function zcard(ctx: Context, args: string[]): Reply {
  return typed(ctx.ks.read(args[0] as string, ctx.now), 'zset')?.value.data.size ?? 0
}

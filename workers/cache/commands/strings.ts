/**
 * String and key commands: SET (EX/PX/EXAT/PXAT, NX/XX, KEEPTTL, GET), GET, MGET, MSET,
 * DEL, EXISTS, EXPIRE/PEXPIRE (NX/XX/GT/LT), TTL/PTTL, PERSIST, INCR/INCRBY/DECR/DECRBY,
 * INCRBYFLOAT, APPEND, GETDEL, GETEX, TYPE. Redis semantics and error strings; each is
 * O(1) per key (APPEND copies the string).
 */
import { utf8Length } from '../keyspace'
import {
  addInt64,
  type Context,
  type ExpiryOption,
  formatDouble,
  NOT_FLOAT,
  parseBigInt,
  parseDouble,
  parseExpiryOption,
  parseInteger,
  RedisError,
  type Reply,
  SYNTAX,
  typed,
} from './args'

function stringOf(ctx: Context, key: string): string | null {
  return typed(ctx.ks.read(key, ctx.now), 'string')?.value.data ?? null
}

export function set(ctx: Context, args: string[]): Reply {
  const [key, value] = args as [string, string]
  const option: ExpiryOption = {}
  let condition: 'NX' | 'XX' | undefined
  let get = false
  for (let i = 2; i < args.length; ) {
    const used = parseExpiryOption(args, i, option, 'set', ctx.now, { keepTtl: true })
    if (used > 0) {
      i += used
      continue
    }
    const word = args[i]?.toUpperCase()
    if ((word === 'NX' || word === 'XX') && condition === undefined) condition = word
    else if (word === 'GET' && !get) get = true
    else throw new RedisError(SYNTAX)
    i++
  }
  const existing = ctx.ks.write(key, ctx.now)
  const old = get ? (typed(existing, 'string')?.value.data ?? null) : null
  if ((condition === 'NX' && existing) || (condition === 'XX' && !existing)) return get ? old : null
  const expiresAt = option.keepTtl ? existing?.expiresAt : (option.expiresAt ?? undefined)
  ctx.ks.put(key, { type: 'string', data: value }, expiresAt, ctx.now)
  return get ? old : 'OK'
}

export function get(ctx: Context, args: string[]): Reply {
  return stringOf(ctx, args[0] as string)
}

export function mget(ctx: Context, args: string[]): Reply {
  return args.map((key) => {
    const entry = ctx.ks.read(key, ctx.now)
    return entry?.value.type === 'string' ? entry.value.data : null
  })
}

export function mset(ctx: Context, args: string[]): Reply {
  if (args.length % 2 !== 0) throw new RedisError("ERR wrong number of arguments for 'mset' command")
  for (let i = 0; i < args.length; i += 2) {
    ctx.ks.put(args[i] as string, { type: 'string', data: args[i + 1] as string }, undefined, ctx.now)
  }
  return 'OK'
}

export function del(ctx: Context, args: string[]): Reply {
  let removed = 0
  for (const key of args) if (ctx.ks.lookup(key, ctx.now) && ctx.ks.delete(key)) removed++
  return removed
}

export function exists(ctx: Context, args: string[]): Reply {
  return args.filter((key) => ctx.ks.lookup(key, ctx.now) !== undefined).length
}

export function type(ctx: Context, args: string[]): Reply {
  return ctx.ks.lookup(args[0] as string, ctx.now)?.value.type ?? 'none'
}

function expireWith(ctx: Context, args: string[], unitMs: number): Reply {
  const [key, raw] = args as [string, string]
  const amount = parseInteger(raw)
  const flags = new Set(args.slice(2).map((word) => word.toUpperCase()))
  for (const flag of flags)
    if (!['NX', 'XX', 'GT', 'LT'].includes(flag)) throw new RedisError(`ERR Unsupported option ${flag}`)
  if (flags.has('NX') && flags.size > 1)
    throw new RedisError('ERR NX and XX, GT or LT options at the same time are not compatible')
  if (flags.has('GT') && flags.has('LT'))
    throw new RedisError('ERR GT and LT options at the same time are not compatible')
  const entry = ctx.ks.write(key, ctx.now)
  if (!entry) return 0
  const at = ctx.now + amount * unitMs
  if (!Number.isSafeInteger(at))
    throw new RedisError(`ERR invalid expire time in '${unitMs === 1 ? 'pexpire' : 'expire'}' command`)
  const current = entry.expiresAt
  if (flags.has('NX') && current !== undefined) return 0
  if (flags.has('XX') && current === undefined) return 0
  // A key without a TTL counts as an infinite TTL for GT and LT.
  if (flags.has('GT') && (current === undefined || at <= current)) return 0
  if (flags.has('LT') && current !== undefined && at >= current) return 0
  if (at <= ctx.now) ctx.ks.delete(key)
  else ctx.ks.setExpiry(key, entry, at, ctx.now)
  return 1
}

export const expire = (ctx: Context, args: string[]) => expireWith(ctx, args, 1000)
export const pexpire = (ctx: Context, args: string[]) => expireWith(ctx, args, 1)

function ttlIn(ctx: Context, key: string, unitMs: number): Reply {
  const entry = ctx.ks.lookup(key, ctx.now)
  if (!entry) return -2
  if (entry.expiresAt === undefined) return -1
  const left = entry.expiresAt - ctx.now
  return unitMs === 1 ? left : Math.floor((left + 500) / 1000)
}

export const ttl = (ctx: Context, args: string[]) => ttlIn(ctx, args[0] as string, 1000)
export const pttl = (ctx: Context, args: string[]) => ttlIn(ctx, args[0] as string, 1)

export function persist(ctx: Context, args: string[]): Reply {
  const entry = ctx.ks.write(args[0] as string, ctx.now)
  if (!entry || entry.expiresAt === undefined) return 0
  ctx.ks.setExpiry(args[0] as string, entry, undefined, ctx.now)
  return 1
}

function incrementBy(ctx: Context, key: string, by: bigint): Reply {
  const entry = typed(ctx.ks.write(key, ctx.now), 'string')
  const current = entry ? parseBigInt(entry.value.data) : 0n
  const next = addInt64(current, by)
  ctx.ks.put(key, { type: 'string', data: next.toString() }, entry?.expiresAt, ctx.now)
  return Number(next)
}

export const incr = (ctx: Context, args: string[]) => incrementBy(ctx, args[0] as string, 1n)
export const decr = (ctx: Context, args: string[]) => incrementBy(ctx, args[0] as string, -1n)
export const incrby = (ctx: Context, args: string[]) =>
  incrementBy(ctx, args[0] as string, parseBigInt(args[1] as string))
export function decrby(ctx: Context, args: string[]): Reply {
  const by = parseBigInt(args[1] as string)
  if (by === -(2n ** 63n)) throw new RedisError('ERR decrement would overflow')
  return incrementBy(ctx, args[0] as string, -by)
}

export function incrbyfloat(ctx: Context, args: string[]): Reply {
  const [key, raw] = args as [string, string]
  const by = parseDouble(raw)
  const entry = typed(ctx.ks.write(key, ctx.now), 'string')
  const current = entry ? parseDouble(entry.value.data, NOT_FLOAT) : 0
  const next = current + by
  if (!Number.isFinite(next)) throw new RedisError('ERR increment would produce NaN or Infinity')
  const text = formatDouble(next)
  ctx.ks.put(key, { type: 'string', data: text }, entry?.expiresAt, ctx.now)
  return text
}

export function append(ctx: Context, args: string[]): Reply {
  const [key, suffix] = args as [string, string]
  const entry = typed(ctx.ks.write(key, ctx.now), 'string')
  const next = (entry?.value.data ?? '') + suffix
  ctx.ks.put(key, { type: 'string', data: next }, entry?.expiresAt, ctx.now)
  return utf8Length(next)
}

export function getdel(ctx: Context, args: string[]): Reply {
  const value = stringOf(ctx, args[0] as string)
  if (value !== null) ctx.ks.delete(args[0] as string)
  return value
}

export function getex(ctx: Context, args: string[]): Reply {
  const key = args[0] as string
  const option: ExpiryOption = {}
  for (let i = 1; i < args.length; ) {
    const used = parseExpiryOption(args, i, option, 'getex', ctx.now, { persist: true })
    if (used === 0) throw new RedisError(SYNTAX)
    i += used
  }
  const entry = typed(ctx.ks.read(key, ctx.now), 'string')
  if (!entry) return null
  if (option.expiresAt === null) ctx.ks.setExpiry(key, entry, undefined, ctx.now)
  else if (option.expiresAt !== undefined) {
    if (option.expiresAt <= ctx.now) ctx.ks.delete(key)
    else ctx.ks.setExpiry(key, entry, option.expiresAt, ctx.now)
  }
  return entry.value.data
}

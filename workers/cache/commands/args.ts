/**
 * What every command shares: the reply type, Redis's error strings and its strict parsers
 * for integers, doubles and TTL options. A thrown `RedisError` becomes that command's
 * `{ error }` reply; its message is the exact text Redis sends.
 */
import type { Entry, Keyspace, Value } from '../keyspace'

export type Reply = string | number | null | Reply[]

export class RedisError extends Error {}

export const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value'
export const NOT_INTEGER = 'ERR value is not an integer or out of range'
export const NOT_FLOAT = 'ERR value is not a valid float'
export const SYNTAX = 'ERR syntax error'
export const OOM = "OOM command not allowed when used memory > 'maxmemory'."
export const CROSSSLOT = "CROSSSLOT Keys in request don't hash to the same slot"

export interface Context {
  ks: Keyspace
  now: number
  random: () => number
}

const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** Redis's string2ll: optional minus, digits without leading zeros, within int64. */
export function parseBigInt(text: string, message = NOT_INTEGER): bigint {
  if (!/^(-?[1-9]\d{0,19}|0)$/.test(text)) throw new RedisError(message)
  const value = BigInt(text)
  if (value < INT64_MIN || value > INT64_MAX) throw new RedisError(message)
  return value
}

export function parseInteger(text: string, message = NOT_INTEGER): number {
  return Number(parseBigInt(text, message))
}

/** Sums within int64 or throws Redis's overflow error. */
export function addInt64(a: bigint, b: bigint): bigint {
  const sum = a + b
  if (sum < INT64_MIN || sum > INT64_MAX) throw new RedisError('ERR increment or decrement would overflow')
  return sum
}

export function parseDouble(text: string, message = NOT_FLOAT): number {
  if (/^[+-]?inf(inity)?$/i.test(text))
    return text.startsWith('-') ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new RedisError(message)
  return Number(text)
}

/** Redis's reply text for a double: shortest round-trip form, `inf` / `-inf`. */
export function formatDouble(value: number): string {
  if (value === Number.POSITIVE_INFINITY) return 'inf'
  if (value === Number.NEGATIVE_INFINITY) return '-inf'
  return Object.is(value, -0) ? '0' : String(value)
}

export function arityError(name: string): RedisError {
  return new RedisError(`ERR wrong number of arguments for '${name.toLowerCase()}' command`)
}

/** The entry of `key` if it holds `type`; WRONGTYPE if it holds another. */
export function typed<T extends Value['type']>(
  entry: Entry | undefined,
  type: T,
): (Entry & { value: Extract<Value, { type: T }> }) | undefined {
  if (!entry) return undefined
  if (entry.value.type !== type) throw new RedisError(WRONGTYPE)
  return entry as Entry & { value: Extract<Value, { type: T }> }
}

/** The collection under `key` for writing, created empty (not yet stored) when missing. */
export function collection<T extends 'hash' | 'list' | 'set' | 'zset'>(
  ctx: Context,
  key: string,
  type: T,
  empty: () => Extract<Value, { type: T }>['data'],
): Entry & { value: Extract<Value, { type: T }> } {
  const found = typed(ctx.ks.write(key, ctx.now), type)
  if (found) return found
  const value = { type, data: empty() } as Extract<Value, { type: T }>
  return ctx.ks.put(key, value, undefined, ctx.now) as Entry & { value: Extract<Value, { type: T }> }
}

export interface ExpiryOption {
  /** undefined: no option; null: PERSIST / drop TTL; a number: the absolute time (ms). */
  expiresAt?: number | null
  keepTtl?: boolean
}

/**
 * Parses one EX/PX/EXAT/PXAT (and PERSIST/KEEPTTL where allowed) at `args[i]`; returns
 * how many arguments it used (0 if `args[i]` is not such an option).
 */
export function parseExpiryOption(
  args: string[],
  i: number,
  option: ExpiryOption,
  command: string,
  now: number,
  allow: { persist?: boolean; keepTtl?: boolean },
): number {
  const word = args[i]?.toUpperCase()
  if (word === 'EX' || word === 'PX' || word === 'EXAT' || word === 'PXAT') {
    if (option.expiresAt !== undefined || option.keepTtl) throw new RedisError(SYNTAX)
    const raw = args[i + 1]
    if (raw === undefined) throw new RedisError(SYNTAX)
    const amount = parseInteger(raw)
    if (amount <= 0) throw new RedisError(`ERR invalid expire time in '${command}' command`)
    const ms = word === 'EX' || word === 'EXAT' ? amount * 1000 : amount
    if (!Number.isSafeInteger(ms)) throw new RedisError(`ERR invalid expire time in '${command}' command`)
    option.expiresAt = word === 'EX' || word === 'PX' ? now + ms : ms
    return 2
  }
  if (word === 'PERSIST' && allow.persist) {
    if (option.expiresAt !== undefined) throw new RedisError(SYNTAX)
    option.expiresAt = null
    return 1
  }
  if (word === 'KEEPTTL' && allow.keepTtl) {
    if (option.expiresAt !== undefined) throw new RedisError(SYNTAX)
    option.keepTtl = true
    return 1
  }
  return 0
}

/** HDEL, SREM, ZREM: removes members from the collection under `args[0]`; the count removed. */
export function removeMembers(ctx: Context, args: string[], type: 'hash' | 'set' | 'zset'): Reply {
  const key = args[0] as string
  const entry = typed(ctx.ks.write(key, ctx.now), type)
  if (!entry) return 0
  let removed = 0
  for (const member of args.slice(1)) if (entry.value.data.delete(member)) removed++
  ctx.ks.changed(key, entry)
  return removed
}

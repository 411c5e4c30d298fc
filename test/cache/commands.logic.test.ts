import { beforeEach, describe, expect, it } from 'vitest'
import { runPipeline } from '../../workers/cache/cluster'
import { CROSSSLOT, OOM, WRONGTYPE } from '../../workers/cache/commands'
import { LocalCluster } from '../../workers/cache/local-cluster'

let clock = 1_000_000
let cluster: LocalCluster

/** One command through the cluster path: its result, or its Redis error as `{ error }`. */
async function redis(...args: Array<string | number>): Promise<unknown> {
  const [outcome] = await runPipeline(cluster, cluster.keyspaces.length, [args.map(String)])
  return outcome && 'error' in outcome ? { error: outcome.error } : outcome?.result
}

beforeEach(() => {
  clock = 1_000_000
  cluster = new LocalCluster({ nodes: 1, now: () => clock, random: () => 0.5 })
})

describe('strings', () => {
  it('SET with NX/XX/GET/KEEPTTL and the TTL options', async () => {
    expect(await redis('SET', 'k', 'v1')).toBe('OK')
    expect(await redis('SET', 'k', 'v2', 'NX')).toBeNull()
    expect(await redis('SET', 'other', 'v', 'XX')).toBeNull()
    expect(await redis('SET', 'k', 'v2', 'XX', 'GET')).toBe('v1')
    expect(await redis('SET', 'k', 'v3', 'EX', 10)).toBe('OK')
    expect(await redis('TTL', 'k')).toBe(10)
    expect(await redis('SET', 'k', 'v4', 'KEEPTTL')).toBe('OK')
    expect(await redis('PTTL', 'k')).toBe(10_000)
    expect(await redis('SET', 'k', 'v5', 'PX', 1500)).toBe('OK')
    expect(await redis('PTTL', 'k')).toBe(1500)
    expect(await redis('SET', 'k', 'v6', 'EXAT', clock / 1000 + 20)).toBe('OK')
    expect(await redis('TTL', 'k')).toBe(20)
    expect(await redis('SET', 'k', 'v7', 'PXAT', clock + 700)).toBe('OK')
    expect(await redis('PTTL', 'k')).toBe(700)
    expect(await redis('SET', 'k', 'v8')).toBe('OK')
    expect(await redis('TTL', 'k')).toBe(-1)
    expect(await redis('SET', 'k', 'v', 'EX', 0)).toEqual({
      error: "ERR invalid expire time in 'set' command",
    })
    expect(await redis('SET', 'k', 'v', 'EX', 'x')).toEqual({
      error: 'ERR value is not an integer or out of range',
    })
    expect(await redis('SET', 'k', 'v', 'NX', 'XX')).toEqual({ error: 'ERR syntax error' })
    expect(await redis('SET', 'k', 'v', 'EX', 1, 'KEEPTTL')).toEqual({ error: 'ERR syntax error' })
    expect(await redis('GET', 'k')).toBe('v8')
  })

  it('expires lazily at the TTL (injected clock)', async () => {
    await redis('SET', 'k', 'v', 'PX', 100)
    clock += 99
    expect(await redis('GET', 'k')).toBe('v')
    clock += 1
    expect(await redis('GET', 'k')).toBeNull()
    expect(await redis('TTL', 'k')).toBe(-2)
    expect(cluster.keyspaces[0]?.stats.expired).toBe(1)
  })

  it('expires actively in TTL order (the alarm path)', async () => {
    await redis('SET', 'a', '1', 'PX', 300)
    await redis('SET', 'b', '1', 'PX', 100)
    await redis('SET', 'c', '1', 'PX', 200)
    await redis('SET', 'b', '1', 'PX', 1000)
    const ks = cluster.keyspaces[0]
    expect(ks?.nextExpiry()).toBe(clock + 100)
    expect(ks?.expireDue(clock + 250)).toBe(1)
    expect([...(ks?.entries.keys() ?? [])].sort()).toEqual(['a', 'b'])
    expect(ks?.expireDue(clock + 2000)).toBe(2)
    expect(ks?.entries.size).toBe(0)
  })

  it('MGET, MSET, DEL, EXISTS, TYPE, APPEND, GETDEL, GETEX', async () => {
    expect(await redis('MSET', 'a', '1', 'b', '2')).toBe('OK')
    expect(await redis('MGET', 'a', 'nope', 'b')).toEqual(['1', null, '2'])
    expect(await redis('EXISTS', 'a', 'a', 'nope')).toBe(2)
    expect(await redis('TYPE', 'a')).toBe('string')
    expect(await redis('TYPE', 'nope')).toBe('none')
    expect(await redis('APPEND', 'a', 'é')).toBe(3)
    expect(await redis('GETDEL', 'a')).toBe('1é')
    expect(await redis('GETDEL', 'a')).toBeNull()
    expect(await redis('GETEX', 'b', 'EX', 5)).toBe('2')
    expect(await redis('TTL', 'b')).toBe(5)
    expect(await redis('GETEX', 'b', 'PERSIST')).toBe('2')
    expect(await redis('TTL', 'b')).toBe(-1)
    expect(await redis('DEL', 'b', 'nope')).toBe(1)
    expect(await redis('MSET', 'a')).toEqual({ error: "ERR wrong number of arguments for 'mset' command" })
  })

  it('INCR family with int64 bounds and float increments', async () => {
    expect(await redis('INCR', 'n')).toBe(1)
    expect(await redis('INCRBY', 'n', 41)).toBe(42)
    expect(await redis('DECR', 'n')).toBe(41)
    expect(await redis('DECRBY', 'n', 50)).toBe(-9)
    expect(await redis('INCRBYFLOAT', 'f', '10.5')).toBe('10.5')
    expect(await redis('INCRBYFLOAT', 'f', '0.1')).toBe('10.6')
    expect(await redis('INCRBYFLOAT', 'f', '-5.6')).toBe('5')
    await redis('SET', 's', 'abc')
    expect(await redis('INCR', 's')).toEqual({ error: 'ERR value is not an integer or out of range' })
    expect(await redis('INCRBY', 'n', '1.5')).toEqual({
      error: 'ERR value is not an integer or out of range',
    })
    await redis('SET', 'big', '9223372036854775807')
    expect(await redis('INCR', 'big')).toEqual({ error: 'ERR increment or decrement would overflow' })
    expect(await redis('GET', 'big')).toBe('9223372036854775807')
    expect(await redis('INCRBYFLOAT', 's', '1')).toEqual({ error: 'ERR value is not a valid float' })
    expect(await redis('INCRBYFLOAT', 'f', 'inf')).toEqual({
      error: 'ERR increment would produce NaN or Infinity',
    })
  })

  it('EXPIRE / PEXPIRE with NX, XX, GT, LT; PERSIST', async () => {
    await redis('SET', 'k', 'v')
    expect(await redis('EXPIRE', 'k', 10, 'XX')).toBe(0)
    expect(await redis('EXPIRE', 'k', 10, 'NX')).toBe(1)
    expect(await redis('EXPIRE', 'k', 5, 'GT')).toBe(0)
    expect(await redis('EXPIRE', 'k', 20, 'GT')).toBe(1)
    expect(await redis('PEXPIRE', 'k', 3000, 'LT')).toBe(1)
    expect(await redis('PTTL', 'k')).toBe(3000)
    expect(await redis('PERSIST', 'k')).toBe(1)
    expect(await redis('PERSIST', 'k')).toBe(0)
    expect(await redis('EXPIRE', 'missing', 10)).toBe(0)
    expect(await redis('EXPIRE', 'k', -1)).toBe(1)
    expect(await redis('EXISTS', 'k')).toBe(0)
  })
})

describe('collections', () => {
  it('hashes', async () => {
    expect(await redis('HSET', 'h', 'a', '1', 'b', '2')).toBe(2)
    expect(await redis('HSET', 'h', 'a', '3')).toBe(0)
    expect(await redis('HGET', 'h', 'a')).toBe('3')
    expect(await redis('HMGET', 'h', 'a', 'x', 'b')).toEqual(['3', null, '2'])
    expect(await redis('HGETALL', 'h')).toEqual(['a', '3', 'b', '2'])
    expect(await redis('HINCRBY', 'h', 'a', 7)).toBe(10)
    expect(await redis('HINCRBY', 'h2', 'x', -1)).toBe(-1)
    await redis('HSET', 'h', 's', 'text')
    expect(await redis('HINCRBY', 'h', 's', 1)).toEqual({ error: 'ERR hash value is not an integer' })
    expect(await redis('HDEL', 'h', 'a', 'b', 's', 'zz')).toBe(3)
    expect(await redis('EXISTS', 'h')).toBe(0)
    expect(await redis('HSET', 'h', 'a')).toEqual({
      error: "ERR wrong number of arguments for 'hset' command",
    })
  })

  it('lists', async () => {
    expect(await redis('RPUSH', 'l', 'a', 'b')).toBe(2)
    expect(await redis('LPUSH', 'l', 'x', 'y')).toBe(4)
    expect(await redis('LRANGE', 'l', 0, -1)).toEqual(['y', 'x', 'a', 'b'])
    expect(await redis('LRANGE', 'l', -2, 10)).toEqual(['a', 'b'])
    expect(await redis('LRANGE', 'l', 3, 1)).toEqual([])
    expect(await redis('LLEN', 'l')).toBe(4)
    expect(await redis('LPOP', 'l')).toBe('y')
    expect(await redis('RPOP', 'l', 2)).toEqual(['b', 'a'])
    expect(await redis('LPOP', 'l', -1)).toEqual({ error: 'ERR value is out of range, must be positive' })
    expect(await redis('RPOP', 'l')).toBe('x')
    expect(await redis('LPOP', 'l')).toBeNull()
    expect(await redis('EXISTS', 'l')).toBe(0)
  })

  it('sets', async () => {
    expect(await redis('SADD', 's', 'a', 'b', 'a')).toBe(2)
    expect(await redis('SISMEMBER', 's', 'a')).toBe(1)
    expect(await redis('SISMEMBER', 's', 'z')).toBe(0)
    expect(await redis('SCARD', 's')).toBe(2)
    expect(((await redis('SMEMBERS', 's')) as string[]).sort()).toEqual(['a', 'b'])
    expect(await redis('SREM', 's', 'a', 'z')).toBe(1)
    expect(await redis('SREM', 's', 'b')).toBe(1)
    expect(await redis('EXISTS', 's')).toBe(0)
  })

  it('sorted sets', async () => {
    expect(await redis('ZADD', 'z', 1, 'a', 2, 'b', 3, 'c')).toBe(3)
    expect(await redis('ZADD', 'z', 'CH', 5, 'a', 2, 'b')).toBe(1)
    expect(await redis('ZADD', 'z', 'NX', 0, 'a', 0, 'd')).toBe(1)
    expect(await redis('ZADD', 'z', 'GT', 'CH', 1, 'a', 6, 'c')).toBe(1)
    expect(await redis('ZADD', 'z', 'INCR', 1.5, 'd')).toBe('1.5')
    expect(await redis('ZRANGE', 'z', 0, -1)).toEqual(['d', 'b', 'a', 'c'])
    expect(await redis('ZRANGE', 'z', 0, 1, 'WITHSCORES')).toEqual(['d', '1.5', 'b', '2'])
    expect(await redis('ZRANGE', 'z', '(2', '+inf', 'BYSCORE')).toEqual(['a', 'c'])
    expect(await redis('ZRANGE', 'z', '+inf', 2, 'BYSCORE', 'REV', 'LIMIT', 0, 2)).toEqual(['c', 'a'])
    expect(await redis('ZRANGE', 'z', 0, -1, 'REV')).toEqual(['c', 'a', 'b', 'd'])
    expect(await redis('ZRANK', 'z', 'a')).toBe(2)
    expect(await redis('ZRANK', 'z', 'a', 'WITHSCORE')).toEqual([2, '5'])
    expect(await redis('ZRANK', 'z', 'nope')).toBeNull()
    expect(await redis('ZINCRBY', 'z', '-4.5', 'c')).toBe('1.5')
    expect(await redis('ZSCORE', 'z', 'c')).toBe('1.5')
    expect(await redis('ZREM', 'z', 'a', 'nope')).toBe(1)
    expect(await redis('ZCARD', 'z')).toBe(3)
    expect(await redis('ZADD', 'z', 'NX', 'XX', 1, 'a')).toEqual({
      error: 'ERR XX and NX options at the same time are not compatible',
    })
    expect(await redis('ZADD', 'z', 'x', 'a')).toEqual({ error: 'ERR value is not a valid float' })
    expect(await redis('ZRANGE', 'z', 'a', 'b', 'BYSCORE')).toEqual({
      error: 'ERR min or max is not a float',
    })
  })

  it('WRONGTYPE for every family, and nothing changes', async () => {
    await redis('SET', 's', 'v')
    await redis('LPUSH', 'l', 'x')
    for (const args of [
      ['HSET', 's', 'f', 'v'],
      ['LPUSH', 's', 'x'],
      ['SADD', 's', 'x'],
      ['ZADD', 's', 1, 'x'],
      ['GET', 'l'],
      ['INCR', 'l'],
      ['APPEND', 'l', 'x'],
      ['SET', 'l', 'v', 'GET'],
      ['HGET', 'l', 'f'],
      ['SMEMBERS', 'l'],
      ['ZRANGE', 'l', 0, -1],
    ]) {
      expect(await redis(...args)).toEqual({ error: WRONGTYPE })
    }
    expect(await redis('GET', 's')).toBe('v')
    expect(await redis('LRANGE', 'l', 0, -1)).toEqual(['x'])
  })
})

describe('server commands and errors', () => {
  it('PING, ECHO, DBSIZE, FLUSHDB, SCAN with MATCH and COUNT', async () => {
    expect(await redis('PING')).toBe('PONG')
    expect(await redis('ECHO', 'hi')).toBe('hi')
    for (let i = 0; i < 25; i++) await redis('SET', `user:${i}`, 'v')
    await redis('SET', 'other', 'v')
    expect(await redis('DBSIZE')).toBe(26)
    const seen: string[] = []
    let cursor = '0'
    do {
      const [next, keys] = (await redis('SCAN', cursor, 'MATCH', 'user:*', 'COUNT', 7)) as [string, string[]]
      seen.push(...keys)
      cursor = next
    } while (cursor !== '0')
    expect(seen.sort()).toEqual(Array.from({ length: 25 }, (_, i) => `user:${i}`).sort())
    expect(await redis('FLUSHDB')).toBe('OK')
    expect(await redis('DBSIZE')).toBe(0)
  })

  it('unknown commands and wrong arity answer Redis errors', async () => {
    expect(await redis('NOPE', 'a', 'b')).toEqual({
      error: "ERR unknown command 'NOPE', with args beginning with: 'a' 'b' ",
    })
    expect(await redis('GET')).toEqual({ error: "ERR wrong number of arguments for 'get' command" })
    expect(await redis('GET', 'a', 'b')).toEqual({ error: "ERR wrong number of arguments for 'get' command" })
  })

  it('noeviction refuses writes with OOM once over budget, and changes nothing', async () => {
    cluster = new LocalCluster({ nodes: 1, maxmemory: 400, policy: 'noeviction', now: () => clock })
    expect(await redis('SET', 'a', 'x'.repeat(100))).toBe('OK')
    expect(await redis('SET', 'b', 'x'.repeat(100))).toBe('OK')
    expect(await redis('SET', 'c', 'v')).toEqual({ error: OOM })
    expect(await redis('LPUSH', 'a2', 'v')).toEqual({ error: OOM })
    expect(await redis('EXISTS', 'c', 'a2')).toBe(0)
    // Deleting is always allowed and makes room again.
    expect(await redis('DEL', 'a')).toBe(1)
    expect(await redis('SET', 'c', 'v')).toBe('OK')
  })
})

describe('the cluster', () => {
  it('spreads keys over nodes, fans MGET/MSET/DEL out and merges in order', async () => {
    cluster = new LocalCluster({ nodes: 4, now: () => clock })
    const keys = Array.from({ length: 40 }, (_, i) => `key${i}`)
    expect(await redis('MSET', ...keys.flatMap((k) => [k, `v-${k}`]))).toBe('OK')
    expect(cluster.keyspaces.every((ks) => ks.entries.size > 0)).toBe(true)
    expect(await redis('MGET', ...keys, 'missing')).toEqual([...keys.map((k) => `v-${k}`), null])
    expect(await redis('EXISTS', ...keys)).toBe(40)
    expect(await redis('DBSIZE')).toBe(40)
    expect(await redis('DEL', ...keys.slice(0, 10))).toBe(10)
    expect(await redis('DBSIZE')).toBe(30)
    const seen: string[] = []
    let cursor = '0'
    do {
      const [next, page] = (await redis('SCAN', cursor, 'COUNT', 5)) as [string, string[]]
      seen.push(...page)
      cursor = next
    } while (cursor !== '0')
    expect(seen.sort()).toEqual(keys.slice(10).sort())
    expect(await redis('SCAN', String(4 * 2 ** 32))).toEqual({ error: 'ERR invalid cursor' })
  })

  it('hash tags co-locate keys; other multi-key commands across nodes are CROSSSLOT', async () => {
    cluster = new LocalCluster({ nodes: 8, now: () => clock })
    await redis('SET', '{user:1}:name', 'ada')
    await redis('SET', '{user:1}:email', 'ada@example.com')
    const owners = cluster.keyspaces.map((ks) => ks.entries.size)
    expect(owners.filter((n) => n > 0)).toEqual([2])
    // LEASESET etc. are single-key; a multi-key non-fan-out command is refused.
    const info = (await redis('INFO')) as string
    expect(info).toContain('db0:keys=2')
    expect(CROSSSLOT).toBe("CROSSSLOT Keys in request don't hash to the same slot")
  })
})

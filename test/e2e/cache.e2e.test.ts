import { Redis } from '@upstash/redis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

let platform: RunningPlatform
let token: string

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token(`cache-e2e-${crypto.randomUUID().slice(0, 8)}`, ['cache:read', 'cache:write'])
})

afterAll(async () => {
  await platform?.stop()
})

/** The real client, pointed at a cache's base URL with a platform token. */
function client(cache: string, options: { base64?: boolean; bearer?: string } = {}): Redis {
  return new Redis({
    url: `${platform.url}/v1/cache/${cache}`,
    token: options.bearer ?? token,
    retry: false,
    enableTelemetry: false,
    responseEncoding: options.base64 === false ? false : 'base64',
  })
}

async function configure(cache: string, settings: Record<string, unknown>) {
  const response = await fetch(`${platform.url}/v1/cache/${cache}`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(settings),
  })
  expect(response.status).toBe(201)
}

describe('@upstash/redis against the cache', () => {
  it.each([true, false])('every command round-trips (base64 responses: %s)', async (base64) => {
    const cache = `e2e-${crypto.randomUUID().slice(0, 8)}`
    await configure(cache, { nodes: 3 })
    const redis = client(cache, { base64 })
    expect(await redis.ping()).toBe('PONG')
    expect(await redis.echo('héllo wörld')).toBe('héllo wörld')
    // Strings with TTLs and options.
    expect(await redis.set('s', 'v1')).toBe('OK')
    expect(await redis.set('s', 'v2', { nx: true })).toBeNull()
    expect(await redis.set('s', 'v2', { xx: true, get: true })).toBe('v1')
    expect(await redis.set('s', 'v3', { ex: 100 })).toBe('OK')
    expect(await redis.ttl('s')).toBe(100)
    expect(await redis.set('s', 'v4', { keepTtl: true })).toBe('OK')
    expect(await redis.ttl('s')).toBe(100)
    expect(await redis.set('p', 'x', { px: 50_000 })).toBe('OK')
    expect(await redis.pttl('p')).toBeGreaterThan(49_000)
    expect(await redis.set('t', 'x', { exat: Math.floor(Date.now() / 1000) + 60 })).toBe('OK')
    expect(await redis.set('u', 'x', { pxat: Date.now() + 60_000 })).toBe('OK')
    expect(await redis.get('s')).toBe('v4')
    expect(await redis.set('obj', { a: 1, b: [2] })).toBe('OK')
    expect(await redis.get('obj')).toEqual({ a: 1, b: [2] })
    expect(await redis.mset({ m1: 'a', m2: 'b', m3: 'c', m4: 'd' })).toBe('OK')
    expect(await redis.mget('m1', 'nope', 'm4', 'm2')).toEqual(['a', null, 'd', 'b'])
    expect(await redis.exists('m1', 'm2', 'nope')).toBe(2)
    expect(await redis.del('m1', 'm2', 'nope')).toBe(2)
    expect(await redis.expire('m3', 30)).toBe(1)
    expect(await redis.ttl('m3')).toBe(30)
    expect(await redis.persist('m3')).toBe(1)
    expect(await redis.ttl('m3')).toBe(-1)
    expect(await redis.incr('n')).toBe(1)
    expect(await redis.incrby('n', 9)).toBe(10)
    expect(await redis.decr('n')).toBe(9)
    expect(await redis.decrby('n', 4)).toBe(5)
    expect(await redis.incrbyfloat('f', 1.25)).toBe(1.25)
    expect(await redis.append('m3', 'xyz')).toBe(4)
    expect(await redis.getdel('m3')).toBe('cxyz')
    expect(await redis.getex('m4', { ex: 20 })).toBe('d')
    expect(await redis.ttl('m4')).toBe(20)
    expect(await redis.type('m4')).toBe('string')
    // Hashes.
    expect(await redis.hset('h', { name: 'ada', age: 36 })).toBe(2)
    expect(await redis.hget('h', 'name')).toBe('ada')
    expect(await redis.hmget('h', 'name', 'age')).toEqual({ name: 'ada', age: 36 })
    expect(await redis.hgetall('h')).toEqual({ name: 'ada', age: 36 })
    expect(await redis.hincrby('h', 'age', 1)).toBe(37)
    expect(await redis.hdel('h', 'age')).toBe(1)
    // Lists.
    expect(await redis.rpush('l', 'a', 'b')).toBe(2)
    expect(await redis.lpush('l', 'z')).toBe(3)
    expect(await redis.lrange('l', 0, -1)).toEqual(['z', 'a', 'b'])
    expect(await redis.llen('l')).toBe(3)
    expect(await redis.lpop('l')).toBe('z')
    expect(await redis.rpop('l')).toBe('b')
    // Sets.
    expect(await redis.sadd('set', 'a', 'b', 'c')).toBe(3)
    expect(await redis.srem('set', 'c')).toBe(1)
    expect((await redis.smembers('set')).sort()).toEqual(['a', 'b'])
    expect(await redis.sismember('set', 'a')).toBe(1)
    expect(await redis.scard('set')).toBe(2)
    // Sorted sets.
    expect(await redis.zadd('z', { score: 1, member: 'one' }, { score: 2, member: 'two' })).toBe(2)
    expect(await redis.zincrby('z', 5, 'one')).toBe(6)
    expect(await redis.zrange('z', 0, -1, { withScores: true })).toEqual(['two', 2, 'one', 6])
    expect(await redis.zrange('z', 0, 10, { byScore: true })).toEqual(['two', 'one'])
    expect(await redis.zrank('z', 'one')).toBe(1)
    expect(await redis.zrem('z', 'two')).toBe(1)
    // Cluster-wide commands.
    const keys: string[] = []
    let cursor: string | number = 0
    do {
      const [next, page]: [string, string[]] = await redis.scan(cursor, { match: '*', count: 5 })
      keys.push(...page)
      cursor = next
    } while (cursor !== '0')
    expect(keys.length).toBe(await redis.dbsize())
    expect(new Set(keys)).toContain('obj')
    const info = await redis.exec<string>(['INFO'])
    expect(info).toContain('cluster_nodes:3')
    expect(await redis.flushdb()).toBe('OK')
    expect(await redis.dbsize()).toBe(0)
  })

  it('pipelines and multi-exec', async () => {
    const redis = client(`e2e-${crypto.randomUUID().slice(0, 8)}`)
    const results = await redis.pipeline().set('a', 1).incr('a').get('a').mget('a', 'b').exec()
    expect(results).toEqual(['OK', 2, 2, [2, null]])
    const tx = await redis
      .multi()
      .set('{order:7}:state', 'paid')
      .hset('{order:7}:lines', { sku: 'x' })
      .get('{order:7}:state')
      .exec()
    expect(tx).toEqual(['OK', 1, 'paid'])
    const large = redis.pipeline()
    for (let i = 0; i < 100; i++) large.set(`k${i}`, i)
    expect((await large.exec()).length).toBe(100)
    expect(await redis.dbsize()).toBe(103)
  })

  it('errors reach the client as UpstashError with the Redis text', async () => {
    const redis = client(`e2e-${crypto.randomUUID().slice(0, 8)}`)
    await redis.set('s', 'text')
    await expect(redis.lpush('s', 'x')).rejects.toThrow(
      'WRONGTYPE Operation against a key holding the wrong kind of value',
    )
    await expect(redis.incr('s')).rejects.toThrow('ERR value is not an integer or out of range')
    await expect(redis.exec(['NOPE'])).rejects.toThrow("ERR unknown command 'NOPE'")
    await expect(redis.multi().set('a', 1).set('b', 2).set('c', 3).set('d', 4).exec()).rejects.toThrow(
      'CROSSSLOT',
    )
    const piped = await redis.pipeline().get('s').incr('s').exec({ keepErrors: true })
    expect(piped[0]).toEqual({ result: 'text', error: undefined })
    expect(piped[1]?.error).toBe('ERR value is not an integer or out of range')
    const stranger = client('whatever', { bearer: 'not.a.token' })
    await expect(stranger.get('k')).rejects.toThrow(/Unauthorized|not valid|token/i)
    expect(await redis.get('s')).toBe('text')
  })

  it('leases over the client: one miss recomputes, the others wait', async () => {
    const redis = client(`e2e-${crypto.randomUUID().slice(0, 8)}`)
    const first = await redis.exec<[string, null, string]>(['LEASEGET', 'page', 5000])
    expect(first[0]).toBe('miss')
    expect(await redis.exec(['LEASEGET', 'page', 5000])).toEqual(['wait', null, null])
    expect(await redis.exec(['LEASESET', 'page', first[2], '<html>', 'EX', 60])).toBe('OK')
    expect(await redis.exec(['LEASEGET', 'page', 5000])).toEqual(['hit', '<html>', null])
  })
})

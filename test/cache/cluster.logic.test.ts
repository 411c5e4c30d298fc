import { describe, expect, it } from 'vitest'
import { runPipeline, runTransaction, skippingUnreachable } from '../../workers/cache/cluster'
import { RedisError } from '../../workers/cache/commands'
import { globToRegExp } from '../../workers/cache/glob'
import { LocalCluster } from '../../workers/cache/local-cluster'
import { nodeOf, slotKey } from '../../workers/cache/placement'

describe('placement on the ring', () => {
  it('hash tags: the first non-empty {…} is the slot key', () => {
    expect(slotKey('{user1000}.following')).toBe('user1000')
    expect(slotKey('foo{}{bar}')).toBe('foo{}{bar}')
    expect(slotKey('foo{{bar}}zap')).toBe('{bar')
    expect(slotKey('foo{bar}{zap}')).toBe('bar')
    expect(slotKey('plain')).toBe('plain')
  })

  it.each([3, 8, 16])(
    'growing from %i nodes moves at most 1/(N+1) + ε of the keys, all to the new node',
    (n) => {
      const keys = Array.from({ length: 20_000 }, (_, i) => `key:${i}`)
      let moved = 0
      for (const key of keys) {
        const before = nodeOf(key, n)
        const after = nodeOf(key, n + 1)
        if (before !== after) {
          moved++
          expect(after).toBe(n)
        }
      }
      const fraction = moved / keys.length
      // ε = 0.05: 128 virtual nodes per node keep the new node's share close to 1/(N+1).
      expect(fraction).toBeLessThanOrEqual(1 / (n + 1) + 0.05)
      expect(fraction).toBeGreaterThan(0)
    },
  )
})

describe('pipelines and transactions', () => {
  it('a pipeline keeps per-key order across nodes and barriers', async () => {
    const cluster = new LocalCluster({ nodes: 4 })
    const outcomes = await runPipeline(cluster, 4, [
      ['SET', 'a', '1'],
      ['SET', 'b', '2'],
      ['INCR', 'a'],
      ['MGET', 'a', 'b'],
      ['DEL', 'a', 'b'],
      ['GET', 'a'],
      ['NOPE'],
      ['DBSIZE'],
    ])
    expect(outcomes).toEqual([
      { result: 'OK' },
      { result: 'OK' },
      { result: 2 },
      { result: ['2', '2'] },
      { result: 2 },
      { result: null },
      { error: "ERR unknown command 'NOPE', with args beginning with: " },
      { result: 0 },
    ])
  })

  it('a transaction on one node runs all its commands; runtime errors stay per command', async () => {
    const cluster = new LocalCluster({ nodes: 4 })
    const outcomes = await runTransaction(cluster, 4, [
      ['SET', '{u}:a', 'x'],
      ['INCR', '{u}:a'],
      ['SET', '{u}:b', '1'],
      ['INCR', '{u}:b'],
    ])
    expect(outcomes).toEqual([
      { result: 'OK' },
      { error: 'ERR value is not an integer or out of range' },
      { result: 'OK' },
      { result: 2 },
    ])
  })

  it('refuses a transaction across nodes (CROSSSLOT) or with a bad command (EXECABORT), running nothing', async () => {
    const cluster = new LocalCluster({ nodes: 4 })
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`)
    const other = keys.find((k) => nodeOf(k, 4) !== nodeOf('k0', 4)) as string
    await expect(
      runTransaction(cluster, 4, [
        ['SET', 'k0', '1'],
        ['SET', other, '1'],
      ]),
    ).rejects.toThrow(new RedisError("CROSSSLOT Keys in request don't hash to the same slot"))
    await expect(runTransaction(cluster, 4, [['SET', 'k0', '1'], ['GET']])).rejects.toThrow(
      'EXECABORT Transaction discarded because of previous errors.',
    )
    expect(cluster.keyspaces.every((ks) => ks.entries.size === 0)).toBe(true)
  })
})

describe('an unreachable node', () => {
  it('is skipped for reads (misses) and answers TRYAGAIN for other commands; it is repopulated by writes', async () => {
    const cluster = new LocalCluster({ nodes: 3 })
    const keys = Array.from({ length: 30 }, (_, i) => `k${i}`)
    await runPipeline(cluster, 3, [['MSET', ...keys.flatMap((k) => [k, 'v'])]])
    const down = new Set([1])
    const flaky = skippingUnreachable({
      ...cluster,
      run: (node, commands) =>
        down.has(node) ? Promise.reject(new Error('gone')) : cluster.run(node, commands),
      stats: (node) => cluster.stats(node),
      readCopy: (node, key) => cluster.readCopy(node, key),
      storeCopy: (node, key, value, at) => cluster.storeCopy(node, key, value, at),
    })
    const onDown = keys.filter((k) => nodeOf(k, 3) === 1)
    const onUp = keys.filter((k) => nodeOf(k, 3) !== 1)
    const [mget] = await runPipeline(flaky, 3, [['MGET', ...keys]])
    expect((mget as { result: Array<string | null> }).result).toEqual(
      keys.map((k) => (nodeOf(k, 3) === 1 ? null : 'v')),
    )
    expect(
      await runPipeline(flaky, 3, [
        ['GET', onDown[0] as string],
        ['GET', onUp[0] as string],
        ['INCR', onDown[0] as string],
      ]),
    ).toEqual([
      { result: null },
      { result: 'v' },
      { error: 'TRYAGAIN node 1 is unreachable; the command may not have run' },
    ])
    down.clear()
    expect(
      await runPipeline(flaky, 3, [
        ['SET', onDown[0] as string, 'again'],
        ['GET', onDown[0] as string],
      ]),
    ).toEqual([{ result: 'OK' }, { result: 'again' }])
  })
})

describe('leases', () => {
  it('one caller gets the lease on a miss; the others wait, then hit', async () => {
    let clock = 0
    const cluster = new LocalCluster({ nodes: 1, now: () => clock })
    const lease = async (...extra: string[]) =>
      ((await runPipeline(cluster, 1, [['LEASEGET', 'k', '5000', ...extra]]))[0] as { result: unknown[] })
        .result
    const first = await lease()
    expect(first.slice(0, 2)).toEqual(['miss', null])
    const token = first[2] as string
    expect(await lease()).toEqual(['wait', null, null])
    const set = (t: string, ...opts: string[]) =>
      runPipeline(cluster, 1, [['LEASESET', 'k', t, 'value', ...opts]])
    expect(await set('wrong')).toEqual([{ result: null }])
    clock = 100
    expect(await set(token, 'EX', '10', 'SWR', '30')).toEqual([{ result: 'OK' }])
    expect(await lease()).toEqual(['hit', 'value', null])
    // Past the TTL, inside the stale window: one refresher, the others get the stale value.
    clock = 100 + 10_000
    const refresh = await lease()
    expect(refresh.slice(0, 2)).toEqual(['refresh', 'value'])
    expect(await lease()).toEqual(['stale', 'value', null])
    // Plain GET sees the key as expired.
    expect(await runPipeline(cluster, 1, [['GET', 'k']])).toEqual([{ result: null }])
    // The refresher's lease (5 s) lapses without a LEASESET: the next caller gets a new one.
    clock = 100 + 10_000 + 5_000
    expect((await lease()).slice(0, 2)).toEqual(['refresh', 'value'])
    // Past the stale window the key is gone: a plain miss, with the lease.
    clock = 100 + 40_000 + 5_000
    expect((await lease()).slice(0, 2)).toEqual(['miss', null])
  })

  it('a write of the key revokes its lease, so a slow recompute cannot overwrite it', async () => {
    const cluster = new LocalCluster({ nodes: 1, now: () => 0 })
    const [first] = await runPipeline(cluster, 1, [['LEASEGET', 'k', '5000']])
    const token = (first as { result: unknown[] }).result[2] as string
    await runPipeline(cluster, 1, [['SET', 'k', 'newer']])
    expect(
      await runPipeline(cluster, 1, [
        ['LEASESET', 'k', token, 'older'],
        ['GET', 'k'],
      ]),
    ).toEqual([{ result: null }, { result: 'newer' }])
  })

  it('XFetch: a hit turns into an early refresh more often as expiry nears', async () => {
    let clock = 0
    let coin = 0.5
    const cluster = new LocalCluster({ nodes: 1, now: () => clock, random: () => coin })
    const [first] = await runPipeline(cluster, 1, [['LEASEGET', 'k', '5000']])
    clock = 1000 // the recompute took 1 s
    await runPipeline(cluster, 1, [
      ['LEASESET', 'k', (first as { result: string[] }).result[2] as string, 'v', 'PX', '60000'],
    ])
    const status = async () =>
      ((await runPipeline(cluster, 1, [['LEASEGET', 'k', '5000', 'XFETCH', '1']]))[0] as { result: string[] })
        .result[0]
    // Far from expiry: −1 s · ln(0.5) ≈ 0.69 s early is not enough.
    clock = 30_000
    expect(await status()).toBe('hit')
    // 0.5 s before expiry with the same coin: refresh, and the lease is held.
    clock = 61_000 - 500
    expect(await status()).toBe('refresh')
    coin = 0.0001
    expect(await status()).toBe('hit')
  })
})

describe('glob patterns', () => {
  it('matches like Redis', () => {
    const cases: Array<[string, string, boolean]> = [
      ['h?llo', 'hello', true],
      ['h*llo', 'heeeello', true],
      ['h[ae]llo', 'hallo', true],
      ['h[^e]llo', 'hello', false],
      ['h[a-b]llo', 'hbllo', true],
      ['h\\*llo', 'h*llo', true],
      ['h\\*llo', 'hello', false],
      ['user:*', 'user:1', true],
      ['user:*', 'users', false],
    ]
    for (const [glob, text, expected] of cases) expect(globToRegExp(glob).test(text)).toBe(expected)
  })
})

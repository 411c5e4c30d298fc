import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { metricShard } from '../../workers/monitoring/shard-object'
import { uniqueTenant } from '../helpers'

const T0 = 1_700_000_000_000

describe('metric shard limits', () => {
  it('refuses new series over the limit, keeps writing to existing ones, and counts exactly', async () => {
    const tenant = uniqueTenant()
    const stub = metricShard(env, tenant, 0)
    await stub.setSeriesLimit(2)
    const at = { tenant, shard: 0 }
    const series = (job: string, t: number) => ({ labels: { __name__: 'up', job }, times: [t], values: [1] })
    expect(await stub.write(at, [series('a', T0), series('b', T0)])).toEqual({
      samples: 2,
      outOfOrder: 0,
      limited: 0,
      seriesLimit: 2,
    })
    expect(await stub.write(at, [series('c', T0), series('a', T0 + 1000)])).toEqual({
      samples: 1,
      outOfOrder: 0,
      limited: 1,
      seriesLimit: 2,
    })
    // Known series only: stored without asking the ledger.
    expect(await stub.write(at, [series('b', T0 + 1000)])).toEqual({ samples: 1, outOfOrder: 0, limited: 0 })
    const count = await runInDurableObject(
      stub,
      (_, state) => state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM series').one().n,
    )
    expect(count).toBe(2)
  })

  it("holds the tenant's limit over all shards together, exactly, under concurrent writes", async () => {
    const tenant = uniqueTenant()
    await metricShard(env, tenant, 0).setSeriesLimit(25)
    const series = (shard: number, i: number) => ({
      labels: { __name__: 'pod_up', pod: `s${shard}-${i}` },
      times: [T0],
      values: [1],
    })
    // 4 shards × 5 writers × 4 new series each = 80 asked for, 25 allowed.
    const outcomes = await Promise.all(
      [0, 1, 2, 3].flatMap((shard) =>
        Array.from({ length: 5 }, (_, w) =>
          metricShard(env, tenant, shard).write(
            { tenant, shard },
            Array.from({ length: 4 }, (_, i) => series(shard, w * 4 + i)),
          ),
        ),
      ),
    )
    const stored = outcomes.reduce((n, o) => n + o.samples, 0)
    const limited = outcomes.reduce((n, o) => n + o.limited, 0)
    expect(stored).toBe(25)
    expect(limited).toBe(55)
    const held = await Promise.all(
      [0, 1, 2, 3].map(async (shard) => (await metricShard(env, tenant, shard).stats()).series),
    )
    expect(held.reduce((a, b) => a + b, 0)).toBe(25)

    // One shard holding most of them is no reason to refuse another's while room is left.
    const other = uniqueTenant()
    await metricShard(env, other, 0).setSeriesLimit(6)
    const one = await metricShard(env, other, 3).write(
      { tenant: other, shard: 3 },
      Array.from({ length: 5 }, (_, i) => series(3, i)),
    )
    expect(one).toMatchObject({ samples: 5, limited: 0 })
    const two = await metricShard(env, other, 1).write({ tenant: other, shard: 1 }, [
      series(1, 0),
      series(1, 1),
    ])
    expect(two).toMatchObject({ samples: 1, limited: 1, seriesLimit: 6 })
  })

  it('gives room back that a batch did not use (a series repeated in it)', async () => {
    const tenant = uniqueTenant()
    await metricShard(env, tenant, 0).setSeriesLimit(2)
    const twice = { labels: { __name__: 'dup' }, times: [T0], values: [1] }
    await metricShard(env, tenant, 2).write({ tenant, shard: 2 }, [twice, { ...twice, times: [T0 + 1] }])
    const next = await metricShard(env, tenant, 1).write({ tenant, shard: 1 }, [
      { labels: { __name__: 'fresh' }, times: [T0], values: [1] },
    ])
    expect(next).toMatchObject({ samples: 1, limited: 0 })
  })

  it('seals samples older than the out-of-order window into chunks and reads both tiers back exactly', async () => {
    const tenant = uniqueTenant()
    const stub = metricShard(env, tenant, 1)
    const at = { tenant, shard: 1 }
    const times = Array.from({ length: 500 }, (_, i) => T0 + i * 15_000)
    const values = times.map((_, i) => Math.sin(i / 10) * 100)
    // Two batches: the first seals what falls behind the window, the second seals more.
    await stub.write(
      at,
      [{ labels: { __name__: 'g' }, times: times.slice(0, 250), values: values.slice(0, 250) }],
      60_000,
    )
    await stub.write(
      at,
      [{ labels: { __name__: 'g' }, times: times.slice(250), values: values.slice(250) }],
      60_000,
    )
    const stats = await stub.stats()
    expect(stats.chunkSamples).toBeGreaterThan(0)
    expect(stats.chunkSamples + stats.headSamples).toBe(500)
    const [matched] = await stub.select([[{ name: '__name__', op: '=', value: 'g' }]], T0, T0 + 500 * 15_000)
    const read = matched?.[0]
    expect(read?.times).toEqual(times)
    expect(read?.values).toEqual(values)
  })
})

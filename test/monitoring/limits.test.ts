import { env, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { metricShard } from '../../workers/monitoring/shard-object'
import { uniqueTenant } from '../helpers'

const T0 = 1_700_000_000_000

describe('metric shard limits', () => {
  it('refuses new series over the limit, keeps writing to existing ones, and counts exactly', async () => {
    const stub = metricShard(env, uniqueTenant(), 0)
    const limits = { maxSeries: 2, outOfOrderMs: 60_000 }
    const series = (job: string, t: number) => ({ labels: { __name__: 'up', job }, times: [t], values: [1] })
    expect(await stub.write([series('a', T0), series('b', T0)], limits)).toEqual({
      samples: 2,
      outOfOrder: 0,
      limited: 0,
      seriesLimit: 20_000,
    })
    expect(await stub.write([series('c', T0), series('a', T0 + 1000)], limits)).toEqual({
      samples: 1,
      outOfOrder: 0,
      limited: 1,
      seriesLimit: 20_000,
    })
    const count = await runInDurableObject(
      stub,
      (_, state) => state.storage.sql.exec<{ n: number }>('SELECT count(*) AS n FROM series').one().n,
    )
    expect(count).toBe(2)
  })

  it('seals samples older than the out-of-order window into chunks and reads both tiers back exactly', async () => {
    const stub = metricShard(env, uniqueTenant(), 1)
    const limits = { maxSeries: 10, outOfOrderMs: 60_000 }
    const times = Array.from({ length: 500 }, (_, i) => T0 + i * 15_000)
    const values = times.map((_, i) => Math.sin(i / 10) * 100)
    // Two batches: the first seals what falls behind the window, the second seals more.
    await stub.write(
      [{ labels: { __name__: 'g' }, times: times.slice(0, 250), values: values.slice(0, 250) }],
      limits,
    )
    await stub.write(
      [{ labels: { __name__: 'g' }, times: times.slice(250), values: values.slice(250) }],
      limits,
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

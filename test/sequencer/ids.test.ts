import { env, evictDurableObject, runInDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { findResource } from '../../workers/platform/registry'
import { objectName } from '../../workers/platform/tenancy'
import type { GeneratorIdRegistry } from '../../workers/sequencer/id-registry'
import { RANGE_RESOURCE_KIND } from '../../workers/sequencer/range-store'
import { DEFAULT_SNOWFLAKE_EPOCH_MS, decodeSnowflake } from '../../workers/sequencer/snowflake'
import { call, tokenFor, uniqueTenant } from '../helpers'

interface Issued {
  kind: string
  ids: string[]
  generatorId?: number
}

const write = (tenant: string) => tokenFor(tenant, ['sequencer:write', 'sequencer:read'])

async function issue(token: string, name: string, kind: string, count: number): Promise<Issued> {
  const response = await call<Issued>(`/v1/sequencer/generators/${name}/ids`, {
    token,
    body: { kind, count },
  })
  expect(response.status, JSON.stringify(response.body)).toBe(200)
  expect(response.body.ids).toHaveLength(count)
  return response.body
}

function generatorStub(tenant: string, name: string) {
  return env.SEQUENCER.get(env.SEQUENCER.idFromName(objectName(tenant, 'sequencer', name)))
}

function registryStub(tenant: string) {
  return env.SEQUENCER_IDS.get(env.SEQUENCER_IDS.idFromName(objectName(tenant, 'sequencer-ids', 'registry')))
}

const compareAs = (kind: string) =>
  kind === 'snowflake' || kind === 'range'
    ? (a: string, b: string) => (BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0)
    : (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0)

/** Batches of one generator: each strictly increasing, and the batches ordered without overlap. */
function expectIncreasingBatches(kind: string, batches: string[][]) {
  const compare = compareAs(kind)
  const ordered = [...batches].sort((a, b) => compare(a[0] as string, b[0] as string))
  const all = ordered.flat()
  for (let i = 1; i < all.length; i++) {
    if (compare(all[i - 1] as string, all[i] as string) >= 0) {
      throw new Error(`${kind}: ${all[i]} does not follow ${all[i - 1]} (position ${i})`)
    }
  }
  expect(new Set(all).size).toBe(all.length)
}

describe('POST /v1/sequencer/generators/{name}/ids', () => {
  it('issues 100,000 unique, strictly increasing Snowflakes from 100 concurrent requests of 1,000', async () => {
    const tenant = uniqueTenant()
    const token = await write(tenant)
    const batches = await Promise.all(
      Array.from({ length: 100 }, () => issue(token, 'orders', 'snowflake', 1_000)),
    )
    expectIncreasingBatches(
      'snowflake',
      batches.map((batch) => batch.ids),
    )
    expect(new Set(batches.flatMap((batch) => batch.ids)).size).toBe(100_000)
    const generatorIds = new Set(batches.map((batch) => batch.generatorId))
    expect(generatorIds.size).toBe(1)
    const first = decodeSnowflake(BigInt(batches[0]?.ids[0] as string), DEFAULT_SNOWFLAKE_EPOCH_MS)
    expect(first.generatorId).toBe(batches[0]?.generatorId)
    expect(Math.abs(first.timestampMs - Date.now())).toBeLessThan(10 * 60_000)
  })

  it.each(['uuidv7', 'ulid', 'range'])(
    'issues unique, strictly increasing %s IDs under concurrency',
    async (kind) => {
      const token = await write(uniqueTenant())
      const batches = await Promise.all(Array.from({ length: 40 }, () => issue(token, 'g', kind, 500)))
      expectIncreasingBatches(
        kind,
        batches.map((batch) => batch.ids),
      )
      expect(new Set(batches.flatMap((batch) => batch.ids)).size).toBe(20_000)
    },
  )

  it('issues 10,000 IDs in one request, and defaults to one', async () => {
    const token = await write(uniqueTenant())
    for (const kind of ['snowflake', 'uuidv7', 'ulid', 'range']) {
      const big = await issue(token, 'big', kind, 10_000)
      expectIncreasingBatches(kind, [big.ids])
    }
    const one = await call<Issued>('/v1/sequencer/generators/big/ids', { token, body: { kind: 'range' } })
    expect(one.body).toEqual({ kind: 'range', ids: ['10001'] })
  })

  it.each(['snowflake', 'uuidv7', 'ulid'])(
    'continues above its last %s ID in a fresh object instance',
    async (kind) => {
      const tenant = uniqueTenant()
      const token = await write(tenant)
      const before = await issue(token, 'restart', kind, 5_000)
      await evictDurableObject(generatorStub(tenant, 'restart'))
      const after = await issue(token, 'restart', kind, 5_000)
      expectIncreasingBatches(kind, [before.ids, after.ids])
      const compare = compareAs(kind)
      expect(compare(after.ids[0] as string, before.ids.at(-1) as string)).toBe(1)
      if (kind === 'snowflake') expect(after.generatorId).toBe(before.generatorId) // same lease, renewed by name
    },
  )

  it('never reissues range numbers after a crash: the rest of the leased block is skipped', async () => {
    const tenant = uniqueTenant()
    const token = await write(tenant)
    const before = await issue(token, 'tickets', 'range', 10)
    expect(before.ids).toEqual(['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'])
    const held = await call<{ range: { available: number; blocks: unknown[] } }>(
      '/v1/sequencer/generators/tickets',
      {
        token,
      },
    )
    expect(held.body.range).toEqual({ available: 990, blocks: [{ start: 11, end: 1001 }] })

    await evictDurableObject(generatorStub(tenant, 'tickets'))
    const after = await issue(token, 'tickets', 'range', 10)
    expect(after.ids[0]).toBe('1001')
    expect(after.ids.at(-1)).toBe('1010')
    const row = await findResource<{ next: number }>(env, tenant, RANGE_RESOURCE_KIND, 'tickets')
    expect(row?.config.next).toBe(2001)
    expect(row?.version).toBe(3) // created, then two atomic leases
  })

  it('leases from the database once per block, not once per request', async () => {
    const tenant = uniqueTenant()
    const token = await write(tenant)
    for (let i = 0; i < 30; i++) await issue(token, 'seats', 'range', 30)
    const row = await findResource<{ next: number }>(env, tenant, RANGE_RESOURCE_KIND, 'seats')
    expect(row?.config.next).toBe(1 + 1_000)
    expect(row?.version).toBe(2)
  })

  it('covers a burst of range requests with fewer leases than requests', async () => {
    const tenant = uniqueTenant()
    const token = await write(tenant)
    const batches = await Promise.all(Array.from({ length: 40 }, () => issue(token, 'burst', 'range', 1_000)))
    expectIncreasingBatches(
      'range',
      batches.map((batch) => batch.ids),
    )
    const row = await findResource<{ next: number }>(env, tenant, RANGE_RESOURCE_KIND, 'burst')
    const leases = (row?.version ?? 0) - 1
    expect(leases).toBeGreaterThanOrEqual(1)
    expect(leases).toBeLessThan(40) // each lease covered every request waiting when it started
    expect(row?.config.next).toBeGreaterThanOrEqual(40_001)
  })

  it('gives live generators of a tenant distinct generator IDs, leased from one registry', async () => {
    const tenant = uniqueTenant()
    const token = await write(tenant)
    const names = Array.from({ length: 40 }, (_, i) => `gen-${i}`)
    const issued = await Promise.all(names.map((name) => issue(token, name, 'snowflake', 10)))
    const generatorIds = issued.map((batch) => batch.generatorId)
    expect(new Set(generatorIds).size).toBe(40)
    expect([...generatorIds].sort((a, b) => (a as number) - (b as number))).toEqual(names.map((_, i) => i))
    for (const [i, batch] of issued.entries()) {
      for (const id of batch.ids) expect(decodeSnowflake(BigInt(id)).generatorId).toBe(generatorIds[i])
    }
    const leases = await runInDurableObject(registryStub(tenant), (registry: GeneratorIdRegistry) =>
      registry.leases(),
    )
    expect(leases).toHaveLength(40)
    expect(new Set(leases.map((lease) => lease.holder))).toEqual(new Set(names))
    for (const lease of leases) expect(lease.expiresAtMs).toBeGreaterThan(Date.now())
    const all = issued.flatMap((batch) => batch.ids)
    expect(new Set(all).size).toBe(all.length)
  })

  it('moves to another generator ID when its lease was lost, still above its last ID', async () => {
    const tenant = uniqueTenant()
    const token = await write(tenant)
    const before = await issue(token, 'mover', 'snowflake', 100)
    expect(before.generatorId).toBe(0)
    // Its lease ran out and another generator took ID 0 in the meantime.
    await runInDurableObject(registryStub(tenant), (_: GeneratorIdRegistry, state) => {
      state.storage.sql.exec("UPDATE generator_leases SET holder = 'someone-else' WHERE holder = 'mover'")
    })
    await runInDurableObject(generatorStub(tenant, 'mover'), (_, state) => {
      state.storage.sql.exec(
        "UPDATE sequencer_state SET value = json_set(value, '$.expiresAtMs', ?) WHERE key = 'snowflakeLease'",
        Date.now(),
      )
    })
    const after = await issue(token, 'mover', 'snowflake', 100)
    expect(after.generatorId).toBe(1)
    expect(BigInt(after.ids[0] as string)).toBeGreaterThan(BigInt(before.ids.at(-1) as string))
    for (const id of after.ids) expect(decodeSnowflake(BigInt(id)).generatorId).toBe(1)
    const leases = await registryStub(tenant).leases()
    expect(leases.map((lease) => [lease.generatorId, lease.holder])).toEqual([
      [0, 'someone-else'],
      [1, 'mover'],
    ])
  })

  it('keeps tenants apart: the same generator name in two tenants is two independent generators', async () => {
    const [a, b] = [uniqueTenant(), uniqueTenant()]
    const [tokenA, tokenB] = await Promise.all([write(a), write(b)])
    expect((await issue(tokenA, 'shared', 'range', 3)).ids).toEqual(['1', '2', '3'])
    expect((await issue(tokenB, 'shared', 'range', 2)).ids).toEqual(['1', '2'])
    expect((await issue(tokenA, 'shared', 'range', 1)).ids).toEqual(['4'])
    expect((await issue(tokenA, 'shared', 'snowflake', 1)).generatorId).toBe(0)
    expect((await issue(tokenB, 'shared', 'snowflake', 1)).generatorId).toBe(0)
    await issue(tokenA, 'shared', 'uuidv7', 1)
    const stateB = await call<{ uuidv7: unknown }>('/v1/sequencer/generators/shared', { token: tokenB })
    expect(stateB.body.uuidv7).toBeNull()
  })
})

describe('GET /v1/sequencer/generators/{name}', () => {
  it('shows the last IDs, the generator-ID lease and the leased range', async () => {
    const token = await write(uniqueTenant())
    const empty = await call('/v1/sequencer/generators/fresh', { token })
    expect(empty.status).toBe(200)
    expect(empty.body).toEqual({
      name: 'fresh',
      snowflake: null,
      uuidv7: null,
      ulid: null,
      range: { available: 0, blocks: [] },
    })
    const snowflake = await issue(token, 'fresh', 'snowflake', 3)
    const state = await call<{ snowflake: Record<string, unknown> }>('/v1/sequencer/generators/fresh', {
      token,
    })
    expect(state.body.snowflake).toMatchObject({
      epochMs: DEFAULT_SNOWFLAKE_EPOCH_MS,
      generatorId: snowflake.generatorId,
      lastId: snowflake.ids[2],
    })
    expect(state.body.snowflake.leaseExpiresAtMs).toBeGreaterThan(Date.now())
  })
})

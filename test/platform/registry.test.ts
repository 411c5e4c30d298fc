import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import {
  createResource,
  deleteResource,
  findResource,
  getResource,
  listResources,
  updateResource,
} from '../../workers/platform/registry'
import { uniqueTenant } from '../helpers'

async function expectProblem(promise: Promise<unknown>, code: string) {
  await expect(promise).rejects.toMatchObject({ code })
}

describe('resource registry', () => {
  it('creates, reads, updates and deletes a resource', async () => {
    const tenant = uniqueTenant()
    const created = await createResource(env, tenant, 'queue', 'orders', { fifo: true }, 1000)
    expect(created).toEqual({
      kind: 'queue',
      name: 'orders',
      config: { fifo: true },
      version: 1,
      createdAt: 1000,
      updatedAt: 1000,
    })
    expect(await getResource(env, tenant, 'queue', 'orders')).toEqual(created)
    const updated = await updateResource(env, tenant, 'queue', 'orders', { fifo: false }, { now: 2000 })
    expect(updated).toMatchObject({ config: { fifo: false }, version: 2, createdAt: 1000, updatedAt: 2000 })
    await deleteResource(env, tenant, 'queue', 'orders')
    expect(await findResource(env, tenant, 'queue', 'orders')).toBeUndefined()
  })

  it('answers 409 on a duplicate and keeps the first', async () => {
    const tenant = uniqueTenant()
    await createResource(env, tenant, 'topic', 'events', { n: 1 })
    await expectProblem(createResource(env, tenant, 'topic', 'events', { n: 2 }), 'conflict')
    expect((await getResource(env, tenant, 'topic', 'events')).config).toEqual({ n: 1 })
  })

  it('lets exactly one of many concurrent creates win', async () => {
    const tenant = uniqueTenant()
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => createResource(env, tenant, 'topic', 'race', { i })),
    )
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1)
  })

  it('answers 404 for missing resources', async () => {
    const tenant = uniqueTenant()
    await expectProblem(getResource(env, tenant, 'queue', 'missing'), 'not_found')
    await expectProblem(updateResource(env, tenant, 'queue', 'missing', {}), 'not_found')
    await expectProblem(deleteResource(env, tenant, 'queue', 'missing'), 'not_found')
  })

  it('compare-and-set updates refuse a stale version', async () => {
    const tenant = uniqueTenant()
    await createResource(env, tenant, 'queue', 'cas', { v: 1 })
    await updateResource(env, tenant, 'queue', 'cas', { v: 2 }, { ifVersion: 1 })
    await expectProblem(
      updateResource(env, tenant, 'queue', 'cas', { v: 3 }, { ifVersion: 1 }),
      'precondition_failed',
    )
    expect((await getResource(env, tenant, 'queue', 'cas')).config).toEqual({ v: 2 })
  })

  it('pages through a listing with an opaque cursor, in name order', async () => {
    const tenant = uniqueTenant()
    const names = Array.from({ length: 7 }, (_, i) => `q-${String(i).padStart(2, '0')}`)
    for (const name of [...names].reverse()) await createResource(env, tenant, 'queue', name, {})
    await createResource(env, tenant, 'topic', 'not-a-queue', {})
    const seen: string[] = []
    let cursor: string | undefined
    do {
      const page = await listResources(env, tenant, 'queue', { limit: 3, cursor })
      expect(page.items.length).toBeLessThanOrEqual(3)
      seen.push(...page.items.map((r) => r.name))
      cursor = page.nextCursor
    } while (cursor)
    expect(seen).toEqual(names)
    await expectProblem(listResources(env, tenant, 'queue', { limit: 3, cursor: '%%%' }), 'validation_failed')
  })

  it('keeps tenants apart', async () => {
    const [a, b] = [uniqueTenant(), uniqueTenant()]
    await createResource(env, a, 'queue', 'shared-name', { owner: 'a' })
    await createResource(env, b, 'queue', 'shared-name', { owner: 'b' })
    expect((await getResource(env, a, 'queue', 'shared-name')).config).toEqual({ owner: 'a' })
    expect((await listResources(env, b, 'queue', { limit: 10 })).items.map((r) => r.config)).toEqual([
      { owner: 'b' },
    ])
    await deleteResource(env, a, 'queue', 'shared-name')
    expect((await getResource(env, b, 'queue', 'shared-name')).config).toEqual({ owner: 'b' })
  })
})

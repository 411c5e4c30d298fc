import * as v from 'valibot'
import { describe, expect, it } from 'vitest'
import { PUBSUB_LIMITS } from '../../schemas/pubsub'
import { Filter } from '../../schemas/pubsub-subscriptions'
import { type AttributeFilter, filterShape, matchesFilter } from '../../workers/pubsub/filter'

const attributes = { type: 'order.created', region: 'eu', empty: '' }

describe('matchesFilter', () => {
  it('passes everything without a filter', () => {
    expect(matchesFilter(null, {})).toBe(true)
    expect(matchesFilter(undefined, attributes)).toBe(true)
  })

  it('tests equality, prefixes and existence of one attribute', () => {
    expect(matchesFilter({ attribute: 'region', equals: 'eu' }, attributes)).toBe(true)
    expect(matchesFilter({ attribute: 'region', equals: 'EU' }, attributes)).toBe(false)
    expect(matchesFilter({ attribute: 'missing', equals: '' }, attributes)).toBe(false)
    expect(matchesFilter({ attribute: 'empty', equals: '' }, attributes)).toBe(true)
    expect(matchesFilter({ attribute: 'type', prefix: 'order.' }, attributes)).toBe(true)
    expect(matchesFilter({ attribute: 'type', prefix: '' }, attributes)).toBe(true)
    expect(matchesFilter({ attribute: 'missing', prefix: '' }, attributes)).toBe(false)
    expect(matchesFilter({ attribute: 'type', prefix: 'user.' }, attributes)).toBe(false)
    expect(matchesFilter({ attribute: 'empty', exists: true }, attributes)).toBe(true)
    expect(matchesFilter({ attribute: 'missing', exists: false }, attributes)).toBe(true)
    expect(matchesFilter({ attribute: 'region', exists: false }, attributes)).toBe(false)
  })

  it('does not see inherited object properties as attributes', () => {
    expect(matchesFilter({ attribute: 'constructor', exists: true }, {})).toBe(false)
    expect(matchesFilter({ attribute: 'toString', prefix: 'f' }, {})).toBe(false)
  })

  it('combines with and, or and not, with the operators’ identities for empty lists', () => {
    const euOrders: AttributeFilter = {
      and: [
        { attribute: 'type', prefix: 'order.' },
        {
          or: [
            { attribute: 'region', equals: 'eu' },
            { attribute: 'priority', exists: true },
          ],
        },
      ],
    }
    expect(matchesFilter(euOrders, attributes)).toBe(true)
    expect(matchesFilter(euOrders, { type: 'order.paid', region: 'us' })).toBe(false)
    expect(matchesFilter(euOrders, { type: 'order.paid', region: 'us', priority: 'high' })).toBe(true)
    expect(matchesFilter({ not: euOrders }, attributes)).toBe(false)
    expect(matchesFilter({ and: [] }, attributes)).toBe(true)
    expect(matchesFilter({ or: [] }, attributes)).toBe(false)
  })

  it('measures depth and nodes', () => {
    expect(filterShape({ attribute: 'a', exists: true })).toEqual({ depth: 1, nodes: 1 })
    expect(
      filterShape({ and: [{ attribute: 'a', exists: true }, { not: { attribute: 'b', equals: 'c' } }] }),
    ).toEqual({ depth: 3, nodes: 4 })
  })
})

describe('the filter schema', () => {
  const nest = (depth: number): unknown =>
    depth <= 1 ? { attribute: 'a', exists: true } : { and: [nest(depth - 1)] }

  it('accepts filters up to the depth and node bounds', () => {
    expect(v.safeParse(Filter, nest(PUBSUB_LIMITS.maxFilterDepth)).success).toBe(true)
    const wide = { or: Array.from({ length: PUBSUB_LIMITS.maxFilterNodes - 1 }, () => nest(1)) }
    expect(v.safeParse(Filter, wide).success).toBe(true)
  })

  it('rejects deeper, larger, mixed or unknown shapes', () => {
    expect(v.safeParse(Filter, nest(PUBSUB_LIMITS.maxFilterDepth + 1)).success).toBe(false)
    const wide = { or: Array.from({ length: PUBSUB_LIMITS.maxFilterNodes }, () => nest(1)) }
    expect(v.safeParse(Filter, wide).success).toBe(false)
    expect(v.safeParse(Filter, { attribute: 'a', equals: 'b', prefix: 'c' }).success).toBe(false)
    expect(v.safeParse(Filter, { attribute: 'a', matches: '.*' }).success).toBe(false)
    expect(v.safeParse(Filter, { attribute: '', exists: true }).success).toBe(false)
    expect(v.safeParse(Filter, { and: 'x' }).success).toBe(false)
  })

  it('survives hostile nesting without deep recursion', () => {
    let hostile: unknown = { attribute: 'a', exists: true }
    for (let i = 0; i < 10_000; i++) hostile = { not: hostile }
    expect(v.safeParse(Filter, hostile).success).toBe(false)
  })
})

import { describe, expect, it } from 'vitest'
import { shardFor } from '../../workers/platform/hashing'
import { canonicalJson, keyPartition, requestHash } from '../../workers/queue/idempotency'

describe('idempotency keys', () => {
  it('places a key by hashing over the fixed count, whatever the queue grew to', () => {
    for (const key of ['a', 'order-17', 'x'.repeat(255)]) {
      expect(keyPartition(key, 4)).toBe(shardFor(key, 4))
      expect(keyPartition(key, 4)).toBeLessThan(4)
      expect(keyPartition(key, 1)).toBe(0)
    }
    const spread = new Set(Array.from({ length: 200 }, (_, i) => keyPartition(`key-${i}`, 8)))
    expect(spread.size).toBe(8)
  })

  it('writes canonical JSON: object keys sorted, undefined fields left out, arrays kept in order', () => {
    expect(canonicalJson({ b: 1, a: [2, { d: undefined, c: 'x' }] })).toBe('{"a":[2,{"c":"x"}],"b":1}')
    expect(canonicalJson({ a: 1, b: 2 })).toBe(canonicalJson({ b: 2, a: 1 }))
  })

  it('hashes the endpoint and the messages: equal requests match, any difference does not', async () => {
    const one = [{ body: 'x', attributes: { p: '1', q: '2' } }]
    const same = await requestHash('body', [{ attributes: { q: '2', p: '1' }, body: 'x' }])
    expect(await requestHash('body', one)).toBe(same)
    expect(await requestHash('body', one)).toMatch(/^[0-9a-f]{64}$/)
    expect(await requestHash('body/messages', one)).not.toBe(same)
    expect(await requestHash('body', [{ body: 'y', attributes: { p: '1', q: '2' } }])).not.toBe(same)
    expect(await requestHash('body', [...one, ...one])).not.toBe(same)
  })
})

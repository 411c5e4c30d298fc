import { describe, expect, it } from 'vitest'
import { linearizableRegister, nonLinearizableKeys, type Operation } from './linearizability'

const w = (client: number, call: number, ret: number, value: string): Operation => ({
  key: 'k',
  client,
  call,
  ret,
  input: { kind: 'write', value },
})
const r = (client: number, call: number, ret: number, output: string | null): Operation => ({
  key: 'k',
  client,
  call,
  ret,
  input: { kind: 'read' },
  output,
})

describe('linearizability checker', () => {
  it('accepts sequential histories and overlapping operations in either order', () => {
    expect(linearizableRegister([w(0, 0, 1, 'a'), r(1, 2, 3, 'a')])).toBe(true)
    expect(linearizableRegister([w(0, 0, 10, 'a'), r(1, 1, 2, null), r(1, 3, 4, 'a')])).toBe(true)
    expect(linearizableRegister([w(0, 0, 5, 'a'), w(1, 1, 6, 'b'), r(2, 7, 8, 'a')])).toBe(true)
    expect(linearizableRegister([w(0, 0, 5, 'a'), w(1, 1, 6, 'b'), r(2, 7, 8, 'b')])).toBe(true)
  })

  it('rejects stale reads, reads going back in time and values never written', () => {
    expect(linearizableRegister([w(0, 0, 1, 'a'), r(1, 2, 3, null)])).toBe(false)
    expect(linearizableRegister([w(0, 0, 1, 'a'), w(0, 2, 3, 'b'), r(1, 4, 5, 'b'), r(1, 6, 7, 'a')])).toBe(
      false,
    )
    // A write still in flight may be seen, but once seen it cannot be unseen.
    expect(linearizableRegister([w(0, 0, 20, 'b'), r(1, 1, 2, 'b'), r(2, 3, 4, null)])).toBe(false)
    expect(linearizableRegister([r(1, 0, 1, 'ghost')])).toBe(false)
    // Siblings are not a register value.
    expect(linearizableRegister([w(0, 0, 3, 'a'), w(1, 1, 4, 'b'), r(2, 5, 6, 'a|b')])).toBe(false)
  })

  it('lets an operation of unknown outcome take effect late or never', () => {
    expect(linearizableRegister([w(0, 0, Infinity, 'x'), r(1, 1, 2, null), r(1, 3, 4, 'x')])).toBe(true)
    expect(linearizableRegister([w(0, 0, Infinity, 'x'), r(1, 1, 2, null)])).toBe(true)
    expect(linearizableRegister([w(0, 0, Infinity, 'x'), r(1, 1, 2, 'x'), r(1, 3, 4, null)])).toBe(false)
  })

  it('checks keys independently', () => {
    const ops = [w(0, 0, 1, 'a'), { ...r(1, 2, 3, null), key: 'other' }, { ...r(1, 4, 5, null) }]
    expect(nonLinearizableKeys(ops)).toEqual(['k'])
  })
})

import { describe, expect, it } from 'vitest'
import {
  GENERATION_STRIDE,
  LOG_IDS,
  logId,
  nodeGeneration,
  nodePath,
  parseSyncPath,
  platformGeneration,
} from '../../workers/databases/sync-wire'

describe('embedded-replica generations on the platform', () => {
  it('maps node generations of a namespace to its own block and back', () => {
    const ns = 'd0123456789abcdef0123456789abcdef'
    for (const g of [1, 2, 777, GENERATION_STRIDE - 1]) {
      const shown = platformGeneration(ns, g) as number
      expect(shown).toBeLessThanOrEqual(0xffffffff)
      expect(Math.floor(shown / GENERATION_STRIDE)).toBe(logId(ns))
      expect(nodeGeneration(ns, shown)).toBe(g)
    }
    expect(platformGeneration(ns, 0)).toBeUndefined()
    expect(platformGeneration(ns, GENERATION_STRIDE)).toBeUndefined()
    expect(nodeGeneration(ns, 1)).toBeUndefined()
    expect(nodeGeneration(ns, logId(ns) * GENERATION_STRIDE)).toBeUndefined()
    expect((LOG_IDS + 1) * GENERATION_STRIDE).toBeLessThanOrEqual(0xffffffff)
  })

  it('gives different namespaces different blocks (almost always)', () => {
    const ids = new Set(Array.from({ length: 200 }, (_, i) => logId(`d${i.toString(16).padStart(32, '0')}`)))
    expect(ids.size).toBeGreaterThan(190)
    for (const id of ids) expect(id >= 1 && id <= LOG_IDS).toBe(true)
  })

  it('parses only what the client sends and refuses generations of another log', () => {
    expect(parseSyncPath('/info')).toEqual({ kind: 'info' })
    expect(parseSyncPath('/export/42')).toEqual({ kind: 'export', generation: 42 })
    expect(parseSyncPath('/sync/7/1/129')).toEqual({ kind: 'sync', generation: 7, start: 1, end: 129 })
    for (const bad of ['/sync/7/0/5', '/sync/7/5/5', '/sync/7/5', '/export/-1', '/export/99999999999', '/x'])
      expect(parseSyncPath(bad), bad).toBeUndefined()
    const ns = 'dabc'
    const g = platformGeneration(ns, 3) as number
    expect(nodePath(ns, { kind: 'sync', generation: g, start: 5, end: 133 })).toBe('sync/3/5/133')
    expect(nodePath(ns, { kind: 'export', generation: g })).toBe('export/3')
    expect(nodePath('dother', { kind: 'export', generation: g })).toEqual({ stale: g })
  })
})

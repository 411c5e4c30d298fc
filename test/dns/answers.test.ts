import { describe, expect, it } from 'vitest'
import { dnsTenant, query, uniqueZone } from './support'

describe('authoritative answers over DoH', () => {
  it('answers A records with AA, the question echoed in its case', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    await t.replace(zone, 'www', 'A', ['192.0.2.1', '192.0.2.2'])
    const answer = await query(`WwW.${zone.toUpperCase()}`, 'A', { rd: false })
    expect(answer.rcode).toBe('NOERROR')
    expect(answer.flag_aa).toBe(true)
    expect(answer.questions?.[0]?.name).toBe(`WwW.${zone.toUpperCase()}`)
    expect(answer.answers?.map((a) => (a as { data: unknown }).data).sort()).toEqual([
      '192.0.2.1',
      '192.0.2.2',
    ])
  })
})

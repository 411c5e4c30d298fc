import { describe, expect, it } from 'vitest'
import { type ClientContext, inCidr, selectRecords } from '../../workers/dns/policy'
import { parseContent } from '../../workers/dns/records'
import type { RoutingPolicy } from '../../workers/dns/routing-policy'
import { parseIpv4 } from '../../workers/dns/wire/text'
import { TYPE } from '../../workers/dns/wire/types'
import type { RRset } from '../../workers/dns/zone'

function rrset(
  contents: string[],
  policy: Omit<RoutingPolicy, 'attributes'>,
  attributes: RoutingPolicy['attributes'],
): RRset {
  return {
    name: 'app.policy.test',
    type: TYPE.A,
    ttl: 60,
    records: contents.map((content) => parseContent(TYPE.A, content, 'policy.test', 'test')),
    policy: { ...policy, attributes },
  }
}

const base: ClientContext = { random: () => 0, healthy: () => undefined }
const chosen = (set: RRset, context: Partial<ClientContext>) =>
  selectRecords(set, { ...base, ...context }).map((record) => record.content)

describe('routing policies', () => {
  it('weighted: one record, by where the random point falls in the cumulative weights', () => {
    const set = rrset(['192.0.2.1', '192.0.2.2', '192.0.2.3'], { kind: 'weighted' }, [
      { weight: 1 },
      { weight: 3 },
      { weight: 0 },
    ])
    expect(chosen(set, { random: () => 0 })).toEqual(['192.0.2.1'])
    expect(chosen(set, { random: () => 0.24 })).toEqual(['192.0.2.1'])
    expect(chosen(set, { random: () => 0.25 })).toEqual(['192.0.2.2'])
    expect(chosen(set, { random: () => 0.999 })).toEqual(['192.0.2.2'])
  })

  it('geo: by country, then by client subnet, else the default records', () => {
    const set = rrset(['192.0.2.1', '192.0.2.2', '192.0.2.3'], { kind: 'geo' }, [
      { countries: ['DE', 'FR'] },
      { subnets: ['198.51.100.0/24'] },
      { countries: ['*'] },
    ])
    expect(chosen(set, { country: 'FR' })).toEqual(['192.0.2.1'])
    expect(chosen(set, { subnet: { family: 1, address: parseIpv4('198.51.100.7') } })).toEqual(['192.0.2.2'])
    expect(chosen(set, { country: 'JP' })).toEqual(['192.0.2.3'])
    expect(chosen(set, {})).toEqual(['192.0.2.3'])
  })

  it('failover: healthy primaries, else healthy secondaries, else the primaries', () => {
    const set = rrset(['192.0.2.1', '192.0.2.2'], { kind: 'failover' }, [
      { role: 'primary' },
      { role: 'secondary' },
    ])
    const health = (map: Record<string, boolean>) => ({
      healthy: (set: RRset, index: number) => map[set.records[index]?.content ?? ''],
    })
    expect(chosen(set, health({}))).toEqual(['192.0.2.1'])
    expect(chosen(set, health({ '192.0.2.1': false }))).toEqual(['192.0.2.2'])
    expect(chosen(set, health({ '192.0.2.1': false, '192.0.2.2': false }))).toEqual(['192.0.2.1'])
  })

  it('nearest: the region closest to the client, the first record without coordinates', () => {
    const set = rrset(['192.0.2.1', '192.0.2.2', '192.0.2.3'], { kind: 'nearest' }, [
      { region: 'enam' },
      { region: 'weur' },
      { region: 'apac' },
    ])
    expect(chosen(set, { latitude: 48.8, longitude: 2.3 })).toEqual(['192.0.2.2'])
    expect(chosen(set, { latitude: 35.7, longitude: 139.7 })).toEqual(['192.0.2.3'])
    expect(chosen(set, {})).toEqual(['192.0.2.1'])
  })

  it('matches CIDR blocks bit by bit', () => {
    expect(inCidr(parseIpv4('10.1.2.3'), '10.0.0.0/8')).toBe(true)
    expect(inCidr(parseIpv4('10.1.2.3'), '10.1.2.0/31')).toBe(false)
    expect(inCidr(parseIpv4('10.1.2.3'), '2001:db8::/32')).toBe(false)
  })
})

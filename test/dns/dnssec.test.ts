import { describe, expect, it } from 'vitest'
import { call } from '../helpers'
import { dnsTenant, query, uniqueZone } from './support'

const types = (records: Array<{ type: string }> | undefined) => (records ?? []).map((r) => r.type)

describe('DNSSEC online signing', () => {
  it('is off by default and on with one call: DS and DNSKEY shown, signatures only with DO', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone('sec')
    const created = await t.createZone(zone)
    expect(created).toMatchObject({ dnssec: false, ds: [], dnskey: [] })
    await t.replace(zone, 'www', 'A', ['192.0.2.1'])
    expect(types((await query(`www.${zone}`, 'A', { rd: false, dnssec: true })).answers)).toEqual(['A'])

    const on = await call<{ dnssec: boolean; ds: string[]; dnskey: string[]; serial: number }>(
      `/v1/dns/zones/${zone}/dnssec`,
      {
        method: 'PUT',
        token: t.token,
        body: { enabled: true },
      },
    )
    expect(on.body).toMatchObject({ dnssec: true, serial: 3 })
    expect(on.body.ds[0]).toMatch(new RegExp(`^${zone}\\. IN DS \\d+ 13 2 [0-9A-F]{64}$`))
    expect(on.body.dnskey[0]).toMatch(new RegExp(`^${zone}\\. IN DNSKEY 257 3 13 \\S+$`))

    expect(types((await query(`www.${zone}`, 'A', { rd: false })).answers)).toEqual(['A'])
    const signedAnswer = await query(`www.${zone}`, 'A', { rd: false, dnssec: true })
    expect(types(signedAnswer.answers)).toEqual(['A', 'RRSIG'])
    const rrsig = signedAnswer.answers?.[1] as {
      data: { typeCovered: string; algorithm: number; labels: number; signersName: string }
    }
    expect(rrsig.data).toMatchObject({ typeCovered: 'A', algorithm: 13, labels: 3, signersName: zone })
    expect(types((await query(zone, 'DNSKEY', { rd: false, dnssec: true })).answers)).toEqual([
      'DNSKEY',
      'RRSIG',
    ])
  })

  it('denies with compact NSEC: NXDOMAIN becomes NOERROR with NXNAME, NODATA lists the types present', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone('sec')
    await t.createZone(zone, { dnssec: true })
    await t.replace(zone, 'www', 'A', ['192.0.2.1'])
    const nx = await query(`nope.${zone}`, 'A', { rd: false, dnssec: true })
    expect(nx.rcode).toBe('NOERROR')
    expect(types(nx.authorities)).toEqual(['SOA', 'RRSIG', 'NSEC', 'RRSIG'])
    const nsec = nx.authorities?.[2] as { name: string; data: { nextDomain: string; rrtypes: string[] } }
    expect(nsec.name).toBe(`nope.${zone}`)
    expect(nsec.data.nextDomain).toBe(`\u0000.nope.${zone}`)
    expect(nsec.data.rrtypes).toEqual(['RRSIG', 'NSEC', 'UNKNOWN_128'])
    const nodata = await query(`www.${zone}`, 'MX', { rd: false, dnssec: true })
    expect((nodata.authorities as Array<{ data: { rrtypes: string[] } }>)[2]?.data.rrtypes).toEqual([
      'A',
      'RRSIG',
      'NSEC',
    ])
    // Without DO, the same name is a plain NXDOMAIN.
    expect((await query(`nope.${zone}`, 'A', { rd: false, dnssec: false })).rcode).toBe('NXDOMAIN')
  })
})

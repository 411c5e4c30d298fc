import { describe, expect, it } from 'vitest'
import { call, tokenFor } from '../helpers'
import { dnsTenant, query, uniqueZone } from './support'

const rrsets = async (token: string, zone: string, search = '') =>
  call<{
    items: Array<{ name: string; type: string; ttl: number; records: Array<{ content: string }> }>
    nextCursor?: string
  }>(`/v1/dns/zones/${zone}/rrsets${search}`, { token })

describe('zones', () => {
  it('creates a zone with the platform SOA and NS, lists and reads it', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    const created = await t.createZone(zone)
    expect(created).toMatchObject({ name: zone, serial: 1, dnssec: false, ds: [], rrsetCount: 2 })
    const listed = await call<{ items: Array<{ name: string }> }>('/v1/dns/zones', { token: t.token })
    expect(listed.body.items.map((item) => item.name)).toEqual([zone])
    const all = await rrsets(t.token, zone)
    expect(all.body.items.map((set) => `${set.type} ${set.records.map((r) => r.content).join(',')}`)).toEqual(
      [
        'NS ns1.edgeblocks.internal.,ns2.edgeblocks.internal.',
        `SOA ns1.edgeblocks.internal. hostmaster.${zone}. 1 7200 3600 1209600 300`,
      ],
    )
  })

  it('a zone name is global: 409 for a second claim by anyone', async () => {
    const [a, b] = [await dnsTenant(), await dnsTenant()]
    const zone = uniqueZone()
    await a.createZone(zone)
    for (const token of [a.token, b.token]) {
      const again = await call(`/v1/dns/zones/${zone.toUpperCase()}.`, { method: 'PUT', token, body: {} })
      expect(again.status).toBe(409)
    }
    expect((await call('/v1/dns/zones', { token: b.token })).body).toEqual({ items: [] })
  })

  it('refuses a zone inside a foreign zone until that zone delegates it', async () => {
    const [parent, child] = [await dnsTenant(), await dnsTenant()]
    const zone = uniqueZone('parent')
    await parent.createZone(zone)
    const refused = await call(`/v1/dns/zones/shop.${zone}`, { method: 'PUT', token: child.token, body: {} })
    expect(refused.status).toBe(409)
    expect((refused.body as { detail: string }).detail).toMatch(/does not delegate/)
    await parent.replace(zone, 'shop', 'NS', ['ns1.edgeblocks.internal.'])
    await child.createZone(`shop.${zone}`)
    // The parent's owner may create zones below its own zone without delegating.
    await parent.createZone(`own.${zone}`)
  })

  it('tenants cannot see or change each other’s zones', async () => {
    const [a, b] = [await dnsTenant(), await dnsTenant()]
    const zone = uniqueZone()
    await a.createZone(zone)
    await a.replace(zone, 'www', 'A', ['192.0.2.1'])
    const attempts = [
      call(`/v1/dns/zones/${zone}`, { token: b.token }),
      call(`/v1/dns/zones/${zone}/rrsets`, { token: b.token }),
      call(`/v1/dns/zones/${zone}/export`, { token: b.token }),
      b.patch(zone, [{ name: 'www', type: 'A', changetype: 'DELETE' }]),
      call(`/v1/dns/zones/${zone}/dnssec`, { method: 'PUT', token: b.token, body: { enabled: true } }),
      call(`/v1/dns/zones/${zone}`, { method: 'DELETE', token: b.token }),
    ]
    for (const attempt of await Promise.all(attempts)) expect(attempt.status).toBe(404)
    const zoneNow = await call<{ serial: number; dnssec: boolean }>(`/v1/dns/zones/${zone}`, {
      token: a.token,
    })
    expect(zoneNow.body).toMatchObject({ serial: 2, dnssec: false })
    expect((await query(`www.${zone}`, 'A')).answers).toHaveLength(1)
  })

  it('two tenants racing for one name: exactly one gets it', async () => {
    const tenants = await Promise.all(Array.from({ length: 4 }, () => dnsTenant()))
    const zone = uniqueZone('race')
    const results = await Promise.all(
      tenants.map((t) => call(`/v1/dns/zones/${zone}`, { method: 'PUT', token: t.token, body: {} })),
    )
    expect(results.map((r) => r.status).sort()).toEqual([201, 409, 409, 409])
    const owners = await Promise.all(tenants.map((t) => call(`/v1/dns/zones/${zone}`, { token: t.token })))
    expect(owners.filter((r) => r.status === 200)).toHaveLength(1)
  })

  it('needs a token with the dns scopes', async () => {
    const zone = uniqueZone()
    expect((await call(`/v1/dns/zones/${zone}`, { method: 'PUT', body: {} })).status).toBe(401)
    const reader = await tokenFor('dns-reader', ['dns:read'])
    expect((await call(`/v1/dns/zones/${zone}`, { method: 'PUT', token: reader, body: {} })).status).toBe(403)
  })

  it('deleting a zone stops its answers and frees its name', async () => {
    const [a, b] = [await dnsTenant(), await dnsTenant()]
    const zone = uniqueZone()
    await a.createZone(zone)
    await a.replace(zone, 'www', 'A', ['192.0.2.1'])
    expect((await call(`/v1/dns/zones/${zone}`, { method: 'DELETE', token: a.token })).body).toEqual({
      deleted: true,
    })
    expect((await query(`www.${zone}`, 'A', { rd: false })).rcode).toBe('REFUSED')
    await b.createZone(zone)
    expect((await query(`www.${zone}`, 'A', { rd: false })).rcode).toBe('NXDOMAIN')
  })
})

describe('RRsets', () => {
  it('PATCH replaces and deletes RRsets and bumps the serial each time', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    const first = await t.patch(zone, [
      { name: 'www', type: 'A', ttl: 120, changetype: 'REPLACE', records: [{ content: '192.0.2.1' }] },
      { name: `mail.${zone}.`, type: 'MX', changetype: 'REPLACE', records: [{ content: '10 mx' }] },
    ])
    expect(first.body).toEqual({ serial: 2, rrsets: 4 })
    const second = await t.patch(zone, [{ name: 'www', type: 'A', changetype: 'DELETE' }])
    expect(second.body).toEqual({ serial: 3, rrsets: 3 })
    const mx = await rrsets(t.token, zone, '?type=MX')
    expect(mx.body.items).toEqual([
      { name: `mail.${zone}`, type: 'MX', ttl: 3600, records: [{ content: `10 mx.${zone}.` }] },
    ])
    const soa = await query(zone, 'SOA', { rd: false })
    expect((soa.answers as Array<{ data: { serial: number } }>)[0]?.data.serial).toBe(3)
  })

  it('concurrent PATCHes all apply, each bumping the serial once', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.patch(zone, [
          { name: `h${i}`, type: 'A', changetype: 'REPLACE', records: [{ content: `192.0.2.${i}` }] },
        ]),
      ),
    )
    expect(results.map((r) => (r.body as { serial: number }).serial).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 20 }, (_, i) => i + 2),
    )
    expect((await rrsets(t.token, zone, '?type=A')).body.items).toHaveLength(20)
  })

  it('bad record data: 400 listing each field, nothing stored, serial unchanged', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    const bad = await t.patch(zone, [
      { name: 'ok', type: 'A', changetype: 'REPLACE', records: [{ content: '192.0.2.1' }] },
      { name: 'bad', type: 'AAAA', changetype: 'REPLACE', records: [{ content: '192.0.2.1' }] },
      { name: 'ok', type: 'CNAME', changetype: 'REPLACE', records: [{ content: 'x.test.' }] },
      { name: `${'a'.repeat(64)}`, type: 'TXT', changetype: 'REPLACE', records: [{ content: '"x"' }] },
    ])
    expect(bad.status).toBe(400)
    expect((bad.body as { errors: Array<{ path: string }> }).errors.map((e) => e.path)).toEqual([
      'body/rrsets/1/records/0/content',
      'body/rrsets/3/name',
    ])
    const schema = await t.patch(zone, [{ name: 'x', type: 'A', changetype: 'UPSERT' }])
    expect(schema.status).toBe(400)
    const cname = await t.patch(zone, [
      { name: 'ok', type: 'A', changetype: 'REPLACE', records: [{ content: '192.0.2.1' }] },
      { name: 'ok', type: 'CNAME', changetype: 'REPLACE', records: [{ content: 'x.test.' }] },
    ])
    expect(cname.status).toBe(400)
    expect((await call<{ serial: number }>(`/v1/dns/zones/${zone}`, { token: t.token })).body.serial).toBe(1)
    expect((await rrsets(t.token, zone)).body.items).toHaveLength(2)
  })

  it('lists with name and type filters and pages with a cursor', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    await t.patch(
      zone,
      ['a', 'b', 'c', 'd'].map((name) => ({
        name,
        type: 'TXT',
        changetype: 'REPLACE',
        records: [{ content: `"${name}"` }],
      })),
    )
    const page1 = await rrsets(t.token, zone, '?type=TXT&limit=3')
    expect(page1.body.items.map((set) => set.name)).toEqual([`a.${zone}`, `b.${zone}`, `c.${zone}`])
    const page2 = await rrsets(t.token, zone, `?type=TXT&limit=3&cursor=${page1.body.nextCursor}`)
    expect(page2.body).toEqual({ items: [expect.objectContaining({ name: `d.${zone}` })] })
    expect((await rrsets(t.token, zone, `?name=c.${zone}.`)).body.items).toHaveLength(1)
  })
})

describe('zone files through the API', () => {
  it('imports a BIND zone file, exports it, and the export imports to the same zone', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    const file = `$ORIGIN ${zone}.\n$TTL 300\n@ SOA ns1 admin 99 7200 3600 1209600 60\n@ NS ns1\nns1 A 192.0.2.53\nwww 60 IN A 192.0.2.80 ; web\n  IN TXT ( "two"\n "lines" )\n`
    const imported = await call(`/v1/dns/zones/${zone}/import`, {
      method: 'PUT',
      token: t.token,
      body: file,
      headers: { 'content-type': 'text/dns' },
    })
    expect(imported.body).toEqual({ serial: 2, rrsets: 5 })
    const exported = await call<string>(`/v1/dns/zones/${zone}/export`, { token: t.token })
    expect(exported.headers.get('content-type')).toMatch(/^text\/dns/)
    expect(exported.body).toContain(`www.${zone}.\t300\tIN\tTXT\t"two" "lines"`)
    const again = await call(`/v1/dns/zones/${zone}/import`, {
      method: 'PUT',
      token: t.token,
      body: exported.body,
      headers: { 'content-type': 'text/plain' },
    })
    expect(again.body).toEqual({ serial: 3, rrsets: 5 })
    const reexported = await call<string>(`/v1/dns/zones/${zone}/export`, { token: t.token })
    expect(reexported.body.replace(/ 3 7200/, ' 2 7200')).toBe(exported.body)
  })

  it('refuses other media types (415) and a broken file (400) without changes', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    const json = await call(`/v1/dns/zones/${zone}/import`, { method: 'PUT', token: t.token, body: { a: 1 } })
    expect(json.status).toBe(415)
    const broken = await call(`/v1/dns/zones/${zone}/import`, {
      method: 'PUT',
      token: t.token,
      body: 'www IN A (192.0.2.1\n',
      headers: { 'content-type': 'text/dns' },
    })
    expect(broken.status).toBe(400)
    expect((await call<{ serial: number }>(`/v1/dns/zones/${zone}`, { token: t.token })).body.serial).toBe(1)
  })
})

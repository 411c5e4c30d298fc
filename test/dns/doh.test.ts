import { env, runInDurableObject, SELF } from 'cloudflare:test'
import dnsPacket from 'dns-packet'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { zoneStub } from '../../workers/dns/manage'
import { bytesToBase64url } from '../../workers/platform/encoding'
import { call } from '../helpers'
import { dnsTenant, encodeQuery, type Packet, query, uniqueZone } from './support'

const doh = (init: RequestInit, search = '') => SELF.fetch(`http://edge.test/dns-query${search}`, init)
const decode = async (response: Response) =>
  dnsPacket.decode(Buffer.from(await response.arrayBuffer())) as Packet
const urlOf = (input: RequestInfo | URL) =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url
const datas = (packet: Packet) => (packet.answers ?? []).map((a) => (a as { data: unknown }).data)

afterEach(() => vi.restoreAllMocks())

describe('DNS-over-HTTPS (RFC 8484)', () => {
  it('GET and POST give the same answer, Cache-Control is the smallest TTL', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    await t.patch(zone, [
      { name: 'www', type: 'CNAME', ttl: 600, changetype: 'REPLACE', records: [{ content: 'web' }] },
      { name: 'web', type: 'A', ttl: 45, changetype: 'REPLACE', records: [{ content: '192.0.2.7' }] },
    ])
    const bytes = encodeQuery(`www.${zone}`, 'A')
    const get = await doh({}, `?dns=${bytesToBase64url(bytes)}`)
    const post = await doh({
      method: 'POST',
      headers: { 'content-type': 'application/dns-message' },
      body: bytes,
    })
    for (const response of [get, post]) {
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('application/dns-message')
      expect(response.headers.get('cache-control')).toBe('max-age=45')
      const packet = await decode(response)
      expect(packet).toMatchObject({ id: 4242, rcode: 'NOERROR', flag_ra: true, flag_aa: false })
      expect(datas(packet)).toEqual([`web.${zone}`, '192.0.2.7'])
    }
  })

  it('negative answers are cached for the negative TTL; NODATA and NXDOMAIN carry the SOA', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    await t.replace(zone, 'www', 'A', ['192.0.2.1'])
    const nx = await doh({
      method: 'POST',
      headers: { 'content-type': 'application/dns-message' },
      body: encodeQuery(`nope.${zone}`, 'A', { rd: false }),
    })
    expect(nx.headers.get('cache-control')).toBe('max-age=300')
    const packet = await decode(nx)
    expect(packet).toMatchObject({ rcode: 'NXDOMAIN', flag_aa: true, answers: [] })
    expect(packet.authorities?.[0]).toMatchObject({ type: 'SOA', ttl: 300 })
    const nodata = await query(`www.${zone}`, 'TXT', { rd: false })
    expect(nodata).toMatchObject({ rcode: 'NOERROR', answers: [] })
    expect(nodata.authorities?.[0]?.type).toBe('SOA')
  })

  it('malformed HTTP is 400/413/415; malformed DNS is FORMERR with status 200', async () => {
    expect((await doh({})).status).toBe(400)
    expect((await doh({}, '?dns=***')).status).toBe(400)
    expect((await doh({ method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' })).status).toBe(
      415,
    )
    const huge = new Uint8Array(65_536)
    expect(
      (await doh({ method: 'POST', headers: { 'content-type': 'application/dns-message' }, body: huge }))
        .status,
    ).toBe(413)
    const garbage = await doh({
      method: 'POST',
      headers: { 'content-type': 'application/dns-message' },
      body: Uint8Array.of(0xab, 0xcd, 1),
    })
    expect(garbage.status).toBe(200)
    const bytes = new Uint8Array(await garbage.arrayBuffer())
    expect([bytes[0], bytes[1], (bytes[3] ?? 0) & 0xf]).toEqual([0xab, 0xcd, 1])
  })

  it('echoes EDNS: the UDP size and DO bit; REFUSED with an Extended DNS Error outside the hosted zones', async () => {
    const response = await query('not-hosted.invalid', 'A', { rd: false, dnssec: true })
    expect(response.rcode).toBe('REFUSED')
    const opt = response.additionals?.find((a) => a.type === 'OPT') as {
      udpPayloadSize: number
      options: Array<{ code: number }>
    }
    expect(opt.udpPayloadSize).toBe(1232)
    expect(opt.options.map((o) => o.code)).toEqual([15])
  })

  it('limits queries per client address through the gateway', async () => {
    const response = await doh({}, `?dns=${bytesToBase64url(encodeQuery('x.invalid', 'A', { rd: false }))}`)
    expect(response.headers.get('ratelimit-policy')).toMatch(/gateway:ip/)
  })

  it('resolves through a delegation from one tenant’s zone to another’s', async () => {
    const [parent, child] = [await dnsTenant(), await dnsTenant()]
    const zone = uniqueZone('tree')
    await parent.createZone(zone)
    await parent.replace(zone, 'team', 'NS', ['ns1.edgeblocks.internal.'])
    await child.createZone(`team.${zone}`)
    await child.replace(`team.${zone}`, 'api', 'AAAA', ['2001:db8::5'])
    const referral = await query(`api.team.${zone}`, 'AAAA', { rd: false })
    expect(datas(referral)).toEqual(['2001:db8::5'])
    const resolved = await query(`api.team.${zone}`, 'AAAA')
    expect(resolved).toMatchObject({ rcode: 'NOERROR', flag_ra: true, flag_aa: false })
    expect(datas(resolved)).toEqual(['2001:db8::5'])
  })

  it('forwards names outside the hosted tree to the upstreams, failing over', async () => {
    const realFetch = globalThis.fetch
    const tried: string[] = []
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = urlOf(input)
      if (!url.startsWith('https://cloudflare-dns.com') && !url.startsWith('https://dns.google'))
        return realFetch(input, init)
      const request = new Request(input, init)
      tried.push(new URL(request.url).host)
      if (request.url.startsWith('https://cloudflare-dns.com')) throw new TypeError('network down')
      const asked = dnsPacket.decode(Buffer.from(await request.arrayBuffer()))
      const answer = dnsPacket.encode({
        type: 'response',
        id: asked.id,
        flags: dnsPacket.RECURSION_AVAILABLE,
        questions: asked.questions,
        answers: [{ type: 'A', name: asked.questions?.[0]?.name ?? '', ttl: 77, data: '203.0.113.50' }],
      })
      return new Response(answer, { headers: { 'content-type': 'application/dns-message' } })
    })
    const name = `${crypto.randomUUID().slice(0, 8)}.example.org`
    const response = await query(name, 'A')
    expect(datas(response)).toEqual(['203.0.113.50'])
    expect(tried).toEqual(['cloudflare-dns.com', 'dns.google'])
    const cached = await query(name, 'A')
    expect(datas(cached)).toEqual(['203.0.113.50'])
    expect(tried).toHaveLength(2)
  })
})

describe('the JSON API', () => {
  it('answers with Status, flags, Question and Answer data', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    await t.replace(zone, '@', 'MX', ['10 mail'])
    const response = await call<Record<string, unknown>>(`/resolve?name=${zone}&type=MX`, {
      headers: { accept: 'application/dns-json' },
    })
    expect(response.headers.get('content-type')).toBe('application/dns-json')
    expect(response.body).toEqual({
      Status: 0,
      TC: false,
      RD: true,
      RA: true,
      AD: false,
      CD: false,
      Question: [{ name: `${zone}.`, type: 15 }],
      Answer: [{ name: `${zone}.`, type: 15, TTL: 300, data: `10 mail.${zone}.` }],
    })
    const missing = await call<{ Status: number; Authority: unknown[] }>(`/resolve?name=nope.${zone}&type=A`)
    expect(missing.body.Status).toBe(3)
    expect((await call(`/resolve?name=${zone}&type=BOGUS`)).status).toBe(400)
    expect((await call('/resolve')).status).toBe(400)
    const idn = await call<{ Question: unknown }>('/resolve?name=b%C3%BCcher.test')
    expect(idn.body.Question).toEqual([{ name: 'xn--bcher-kva.test.', type: 1 }])
    expect((await call(`/resolve?name=${'a'.repeat(64)}.test`)).status).toBe(400)
  })
})

describe('routing policies in answers', () => {
  it('geo: by the edge’s country and by EDNS Client Subnet', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    const patched = await t.patch(zone, [
      {
        name: 'geo',
        type: 'A',
        ttl: 30,
        changetype: 'REPLACE',
        policy: { kind: 'geo' },
        records: [
          { content: '192.0.2.1', countries: ['DE'] },
          { content: '192.0.2.2', subnets: ['198.51.100.0/24'] },
          { content: '192.0.2.3', countries: ['*'] },
        ],
      },
    ])
    expect(patched.status).toBe(200)
    expect(datas(await query(`geo.${zone}`, 'A', { rd: false, cf: { country: 'DE' } }))).toEqual([
      '192.0.2.1',
    ])
    expect(datas(await query(`geo.${zone}`, 'A', { rd: false, ecs: '198.51.100.0/24' }))).toEqual([
      '192.0.2.2',
    ])
    expect(datas(await query(`geo.${zone}`, 'A', { rd: false, cf: { country: 'BR' } }))).toEqual([
      '192.0.2.3',
    ])
    // Resolution caches each client's answer apart: a cached answer for one subnet or
    // location is never served to another.
    expect(datas(await query(`geo.${zone}`, 'A', { ecs: '203.0.113.0/24' }))).toEqual(['192.0.2.3'])
    expect(datas(await query(`geo.${zone}`, 'A', { ecs: '198.51.100.0/24' }))).toEqual(['192.0.2.2'])
    expect(datas(await query(`geo.${zone}`, 'A', { ecs: '203.0.113.0/24' }))).toEqual(['192.0.2.3'])
  })

  it('nearest: resolution caches answers per client location', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    const patched = await t.patch(zone, [
      {
        name: 'near',
        type: 'A',
        ttl: 300,
        changetype: 'REPLACE',
        policy: { kind: 'nearest' },
        records: [
          { content: '192.0.2.1', region: 'weur' },
          { content: '192.0.2.2', region: 'apac' },
        ],
      },
    ])
    expect(patched.status).toBe(200)
    const paris = { country: 'FR', latitude: '48.86', longitude: '2.35' }
    const tokyo = { country: 'FR', latitude: '35.68', longitude: '139.69' }
    expect(datas(await query(`near.${zone}`, 'A', { cf: paris }))).toEqual(['192.0.2.1'])
    expect(datas(await query(`near.${zone}`, 'A', { cf: tokyo }))).toEqual(['192.0.2.2'])
  })

  it('failover: the zone’s health check moves the answer to the secondary and back', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone()
    await t.createZone(zone)
    await t.patch(zone, [
      {
        name: 'app',
        type: 'A',
        ttl: 30,
        changetype: 'REPLACE',
        policy: { kind: 'failover', healthCheck: { path: '/health', port: 8080 } },
        records: [
          { content: '192.0.2.10', role: 'primary' },
          { content: '192.0.2.20', role: 'secondary' },
        ],
      },
    ])
    let primaryUp = false
    const realFetch = globalThis.fetch
    vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
      const url = urlOf(input)
      if (url === 'http://192.0.2.10:8080/health') return new Response('', { status: primaryUp ? 200 : 503 })
      if (url === 'http://192.0.2.20:8080/health') return new Response('ok')
      return realFetch(input, init)
    })
    const stub = zoneStub(env, zone)
    expect(await runInDurableObject(stub, async (object) => (await object.runHealthChecks()).length)).toBe(2)
    expect(datas(await query(`app.${zone}`, 'A', { rd: false }))).toEqual(['192.0.2.20'])
    const listed = await call<{ items: Array<{ records: Array<{ healthy?: boolean }> }> }>(
      `/v1/dns/zones/${zone}/rrsets?name=app.${zone}`,
      { token: t.token },
    )
    expect(listed.body.items[0]?.records.map((r) => r.healthy)).toEqual([false, true])
    primaryUp = true
    const run = await call<{ results: unknown[] }>(`/v1/dns/zones/${zone}/health-checks`, {
      method: 'POST',
      token: t.token,
    })
    expect(run.body.results).toHaveLength(2)
    expect(datas(await query(`app.${zone}`, 'A', { rd: false }))).toEqual(['192.0.2.10'])
  })
})

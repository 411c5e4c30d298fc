import { describe, expect, it } from 'vitest'
import { answerQuestion } from '../../workers/dns/answer'
import type { ClientContext } from '../../workers/dns/policy'
import { question } from '../../workers/dns/wire/message'
import { formatRdata } from '../../workers/dns/wire/rdata'
import { RCODE, TYPE, typeName } from '../../workers/dns/wire/types'
import { EXAMPLE_ZONE, zoneFrom } from './zones'

const zone = zoneFrom(EXAMPLE_ZONE, 'example.com')
const context: ClientContext = { random: () => 0, healthy: () => undefined }
const ask = (name: string, type: number) => answerQuestion(zone, question(name, type), context)
const show = (records: Array<{ name: string; type: number; ttl: number; data: Uint8Array }>) =>
  records.map((r) => `${r.name} ${r.ttl} ${typeName(r.type)} ${formatRdata(r.type, r.data)}`)

describe('authoritative answers', () => {
  it('answers an existing RRset with AA', () => {
    const answer = ask('www.example.com', TYPE.AAAA)
    expect(answer).toMatchObject({ rcode: RCODE.NOERROR, aa: true, kind: 'answer' })
    expect(show(answer.answers)).toEqual(['www.example.com 3600 AAAA 2001:db8::80'])
  })

  it('keeps the query case in owner names (0x20)', () => {
    expect(ask('WwW.ExAmPlE.cOm', TYPE.A).answers[0]?.name).toBe('WwW.ExAmPlE.cOm')
  })

  it('NXDOMAIN and NODATA both carry the SOA with the negative TTL = min(SOA TTL, MINIMUM)', () => {
    const nx = ask('nope.example.com', TYPE.A)
    expect(nx).toMatchObject({ rcode: RCODE.NXDOMAIN, aa: true, answers: [] })
    expect(show(nx.authorities)).toEqual([
      'example.com 300 SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300',
    ])
    const nodata = ask('www.example.com', TYPE.MX)
    expect(nodata).toMatchObject({ rcode: RCODE.NOERROR, aa: true, answers: [], kind: 'nodata' })
    expect(nodata.authorities[0]?.type).toBe(TYPE.SOA)
  })

  it('empty non-terminals exist: NODATA, not NXDOMAIN', () => {
    expect(ask('b.c.example.com', TYPE.A).kind).toBe('nodata')
    expect(ask('c.example.com', TYPE.TXT).kind).toBe('nodata')
  })

  it('follows CNAME chains inside the zone', () => {
    expect(show(ask('chain.example.com', TYPE.A).answers)).toEqual([
      'chain.example.com 3600 CNAME alias.example.com.',
      'alias.example.com 3600 CNAME www.example.com.',
      'www.example.com 3600 A 192.0.2.80',
    ])
    expect(ask('chain.example.com', TYPE.CNAME).answers).toHaveLength(1)
  })

  it('stops a CNAME loop and a CNAME leaving the zone', () => {
    const loop = ask('loop1.example.com', TYPE.A)
    expect(loop.kind).toBe('cname-out')
    expect(loop.answers).toHaveLength(2)
    const out = ask('out.example.com', TYPE.A)
    expect(out).toMatchObject({ kind: 'cname-out', finalName: 'www.example.org' })
  })

  it('synthesizes wildcard answers under the query name, over several labels (RFC 4592)', () => {
    expect(show(ask('anything.apps.example.com', TYPE.A).answers)).toEqual([
      'anything.apps.example.com 3600 A 192.0.2.100',
    ])
    expect(ask('x.y.apps.example.com', TYPE.A).kind).toBe('answer')
    expect(ask('apps.example.com', TYPE.A).kind).toBe('nodata')
    expect(ask('anything.apps.example.com', TYPE.MX).kind).toBe('nodata')
  })

  it('refers below a delegation with NS and glue, without AA', () => {
    const referral = ask('www.child.example.com', TYPE.A)
    expect(referral).toMatchObject({ kind: 'referral', aa: false, answers: [] })
    expect(show(referral.authorities)).toEqual(['child.example.com 3600 NS ns.child.example.com.'])
    expect(show(referral.additionals)).toEqual(['ns.child.example.com 3600 A 192.0.2.54'])
    expect(ask('child.example.com', TYPE.DS).kind).toBe('nodata')
  })

  it('answers ANY with one RRset (RFC 8482)', () => {
    const any = ask('example.com', TYPE.ANY)
    expect(new Set(any.answers.map((r) => r.type)).size).toBe(1)
  })

  it('serves unknown types (RFC 3597) and a 0-TTL-free SOA at the apex', () => {
    const zone3 = zoneFrom(
      '$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\nx TYPE65400 \\# 2 ABCD\n',
      'u.test',
    )
    const answer = answerQuestion(zone3, question('x.u.test', 65400), context)
    expect(show(answer.answers)).toEqual(['x.u.test 60 TYPE65400 \\# 2 ABCD'])
  })
})

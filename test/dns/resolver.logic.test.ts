import { describe, expect, it } from 'vitest'
import { answerQuestion } from '../../workers/dns/answer'
import { Resolver, type ResolverPorts } from '../../workers/dns/resolver'
import { emptyMessage, type Question } from '../../workers/dns/wire/message'
import { formatRdata } from '../../workers/dns/wire/rdata'
import { EDE, RCODE, TYPE } from '../../workers/dns/wire/types'
import type { Zone } from '../../workers/dns/zone'
import { zoneFrom } from './zones'

const soa = '@ SOA ns hostmaster 1 7200 3600 1209600 60\n@ NS ns\nns A 192.0.2.53\n'

/** Four levels: top.test delegates a.top.test, which delegates b.a.top.test, which delegates c.b.a.top.test. */
function tree(): Map<string, Zone> {
  return new Map([
    [
      'top.test',
      zoneFrom(
        `$TTL 300\n${soa}a NS ns.a\nns.a A 192.0.2.1\nlame NS ns.elsewhere.example.\nalias CNAME www.c.b.a.top.test.\n`,
        'top.test',
      ),
    ],
    ['a.top.test', zoneFrom(`$TTL 300\n${soa}b NS ns.b\nns.b A 192.0.2.2\n`, 'a.top.test')],
    ['b.a.top.test', zoneFrom(`$TTL 300\n${soa}c NS ns.c\nns.c A 192.0.2.3\n`, 'b.a.top.test')],
    [
      'c.b.a.top.test',
      zoneFrom(`$TTL 120\n${soa}www A 192.0.2.80\nout CNAME name.outside.example.\n`, 'c.b.a.top.test'),
    ],
  ])
}

function ports(
  zones: Map<string, Zone>,
  upstream?: (q: Question) => Promise<ReturnType<typeof emptyMessage>>,
) {
  const calls: string[] = []
  const value: ResolverPorts = {
    hostedZones: async (names) => new Set(names.filter((name) => zones.has(name))),
    async queryZone(zone, question) {
      calls.push(zone)
      return answerQuestion(zones.get(zone) as Zone, question, { random: () => 0, healthy: () => undefined })
    },
    forward: async (question) => {
      if (!upstream) throw new Error('no upstream')
      return upstream(question)
    },
  }
  return { value, calls }
}

const q = (name: string, type: number = TYPE.A): Question => ({ name, type, class: 1 })
const data = (records: Array<{ type: number; data: Uint8Array }>) =>
  records.map((r) => formatRdata(r.type, r.data))

describe('iterative resolution of the hosted tree', () => {
  it('walks three delegations cold, answers warm from the cache with TTLs counted down', async () => {
    const resolver = new Resolver()
    const { value, calls } = ports(tree())
    const cold = await resolver.resolve(q('www.c.b.a.top.test'), value, 1_000_000)
    expect(cold).toMatchObject({ rcode: RCODE.NOERROR, source: 'hosted' })
    expect(data(cold.answers)).toEqual(['192.0.2.80'])
    expect(calls).toEqual(['top.test', 'a.top.test', 'b.a.top.test', 'c.b.a.top.test'])
    const warm = await resolver.resolve(q('www.c.b.a.top.test'), value, 1_030_000)
    expect(warm.source).toBe('cache')
    expect(warm.answers[0]?.ttl).toBe(90)
    expect(calls).toHaveLength(4)
    // A sibling name starts at the cached zone cut instead of the top.
    await resolver.resolve(q('other.c.b.a.top.test'), value, 1_030_000)
    expect(calls.slice(4)).toEqual(['c.b.a.top.test'])
  })

  it('caches NXDOMAIN for the negative TTL', async () => {
    const resolver = new Resolver()
    const { value, calls } = ports(tree())
    const first = await resolver.resolve(q('nope.c.b.a.top.test'), value, 0)
    expect(first.rcode).toBe(RCODE.NXDOMAIN)
    const count = calls.length
    expect((await resolver.resolve(q('nope.c.b.a.top.test'), value, 59_000)).source).toBe('cache')
    expect(calls.length).toBe(count)
    await resolver.resolve(q('nope.c.b.a.top.test'), value, 61_000)
    expect(calls.length).toBeGreaterThan(count)
  })

  it('chases a CNAME across zones and out to the upstream', async () => {
    const resolver = new Resolver()
    const upstreamAnswer = emptyMessage(0)
    upstreamAnswer.answers = [
      { name: 'name.outside.example', type: TYPE.A, class: 1, ttl: 30, data: Uint8Array.of(203, 0, 113, 9) },
    ]
    const { value } = ports(tree(), async () => upstreamAnswer)
    const across = await resolver.resolve(q('alias.top.test'), value, 0)
    expect(data(across.answers)).toEqual(['www.c.b.a.top.test.', '192.0.2.80'])
    const out = await resolver.resolve(q('out.c.b.a.top.test'), value, 0)
    expect(data(out.answers)).toEqual(['name.outside.example.', '203.0.113.9'])
  })

  it('SERVFAIL with an Extended DNS Error for a lame delegation, a loop and failing upstreams', async () => {
    const resolver = new Resolver()
    const zones = tree()
    zones.set('loop.test', zoneFrom(`$TTL 60\n${soa}x CNAME y\ny CNAME x.loop.test.\n`, 'loop.test'))
    const { value } = ports(zones)
    const lame = await resolver.resolve(q('www.lame.top.test'), value, 0)
    expect(lame).toMatchObject({ rcode: RCODE.SERVFAIL, ede: { code: EDE.NO_REACHABLE_AUTHORITY } })
    const loop = await resolver.resolve(q('x.loop.test'), value, 0)
    expect(loop).toMatchObject({ rcode: RCODE.SERVFAIL, ede: { code: EDE.OTHER } })
    expect(loop.ede?.text).toMatch(/loop/)
    const outside = await resolver.resolve(q('www.example.org'), value, 0)
    expect(outside).toMatchObject({ rcode: RCODE.SERVFAIL, ede: { code: EDE.NETWORK_ERROR } })
  })
})

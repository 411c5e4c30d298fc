import { describe, expect, it } from 'vitest'
import { applyPatch, normalizeName } from '../../workers/dns/records'
import { formatZoneFile, parseTtl, parseZoneFile } from '../../workers/dns/zonefile'
import { AppError } from '../../workers/platform/errors'
import { EXAMPLE_ZONE, SECOND_ZONE, THIRD_ZONE, zoneFrom } from './zones'

function roundTrip(text: string, origin: string): { first: string; second: string } {
  const first = formatZoneFile(origin, zoneFrom(text, origin).all())
  const second = formatZoneFile(origin, zoneFrom(first, origin).all())
  return { first, second }
}

function errorsOf(run: () => unknown): string[] {
  try {
    run()
  } catch (error) {
    if (error instanceof AppError) return (error.errors ?? []).map((e) => `${e.path}: ${e.message}`)
    throw error
  }
  throw new Error('expected a validation error')
}

describe('zone files (RFC 1035 master format)', () => {
  it.each([
    ['example.com', EXAMPLE_ZONE],
    ['second.test', SECOND_ZONE],
    ['third.test', THIRD_ZONE],
  ])('%s: export → import → export is stable', (origin, text) => {
    const { first, second } = roundTrip(text, origin)
    expect(second).toBe(first)
  })

  it('reads relative names, $TTL with units, owners carried over and parentheses', () => {
    const text = formatZoneFile('example.com', zoneFrom(EXAMPLE_ZONE, 'example.com').all())
    expect(text).toContain(
      'example.com.\t3600\tIN\tSOA\tns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300',
    )
    expect(text).toContain('mail.example.com.\t600\tIN\tA\t192.0.2.25')
    expect(text).toContain('www.example.com.\t3600\tIN\tAAAA\t2001:db8::80')
    expect(text).toContain('_sip._tcp.example.com.\t3600\tIN\tSRV\t10 60 5060 sip.example.com.')
    expect(text).toContain('example.com.\t3600\tIN\tNS\tns2.example.net.')
    const third = formatZoneFile('third.test', zoneFrom(THIRD_ZONE, 'third.test').all())
    expect(third).toContain('deep.sub.third.test.\t9000\tIN\tA\t203.0.113.2')
    expect(third).toContain('private.sub.third.test.\t9000\tIN\tTYPE65400\t\\# 3 ABCDEF')
    const second = formatZoneFile('second.test', zoneFrom(SECOND_ZONE, 'second.test').all())
    expect(second).toContain('host.second.test.\t300\tIN\tTXT\t"two" "strings" "with \\"escapes\\""')
    expect(second.match(/host\.second\.test\.\t300\tIN\tA/g)).toHaveLength(2)
  })

  it('names the line of an error and refuses $INCLUDE and other classes', () => {
    const changes = parseZoneFile('$TTL 60\n@ SOA ns h 1 2 3 4 5\nwww IN A 300.1.1.1\n', 'x.test')
    expect(errorsOf(() => applyPatch(new Map(), 'x.test', changes))).toEqual([
      'body/rrsets/1/records/0/content: "300.1.1.1" is not an IPv4 address',
    ])
    expect(() => parseZoneFile('$INCLUDE other.zone\n', 'x.test')).toThrow(/Line 1: \$INCLUDE/)
    expect(() => parseZoneFile('$TTL 60\nwww CH A 1.2.3.4\n', 'x.test')).toThrow(/Line 2: Class CH/)
    expect(() => parseZoneFile('www IN A (1.2.3.4\n', 'x.test')).toThrow(/Unbalanced/)
    expect(parseTtl('1h30m')).toBe(5400)
    expect(parseTtl('1w')).toBe(604800)
    expect(parseTtl('x')).toBeUndefined()
  })
})

describe('RRset rules', () => {
  const origin = 'rules.test'
  const base = applyPatch(
    new Map(),
    origin,
    parseZoneFile('@ 60 SOA ns h 1 2 3 4 5\n@ 60 NS ns\nns 60 A 192.0.2.1\n', origin),
  )
  const replace = (name: string, type: string, contents: string[]) => ({
    name,
    type,
    changetype: 'REPLACE' as const,
    records: contents.map((content) => ({ content })),
  })

  it('turns IDN into punycode and refuses long labels, long names and misplaced wildcards', () => {
    expect(normalizeName('Bücher.Example.')).toBe('xn--bcher-kva.example')
    expect(() => normalizeName(`${'a'.repeat(64)}.test`)).toThrow(/63/)
    expect(() => normalizeName(`${'abcdefghi.'.repeat(26)}test`)).toThrow(/253/)
    expect(() => normalizeName('a.*.test')).toThrow(/leftmost/)
    expect(normalizeName('*.ok.test')).toBe('*.ok.test')
  })

  it('keeps CNAME alone at its name, single, and away from the apex', () => {
    expect(errorsOf(() => applyPatch(base, origin, [replace('ns', 'CNAME', ['x.test.'])]))).toEqual([
      'body/rrsets: ns.rules.test has a CNAME and other records (RFC 1034 §3.6.2)',
    ])
    expect(errorsOf(() => applyPatch(base, origin, [replace('c', 'CNAME', ['a.test.', 'b.test.'])]))).toEqual(
      ['body/rrsets/0/records: A CNAME RRset holds exactly one record'],
    )
    expect(errorsOf(() => applyPatch(base, origin, [replace('@', 'CNAME', ['a.test.'])]))[0]).toMatch(/apex/)
  })

  it('lists every failing field and changes nothing', () => {
    const errors = errorsOf(() =>
      applyPatch(base, origin, [
        replace('www', 'A', ['192.0.2.1']),
        replace('txt', 'TXT', [`"${'x'.repeat(300)}"`]),
        replace('elsewhere.other.', 'A', ['192.0.2.1']),
        replace('sig', 'RRSIG', ['A 13 2 60 20300101000000 20200101000000 1 rules.test. AAAA']),
        replace('sub', 'SOA', ['ns h 1 2 3 4 5']),
      ]),
    )
    expect(errors).toEqual([
      'body/rrsets/1/records/0/content: A character string is over 255 octets',
      'body/rrsets/2/name: "elsewhere.other." is not inside the zone rules.test',
      "body/rrsets/3/type: RRSIG records are kept by the platform's signer",
      'body/rrsets/4/name: SOA lives at the apex only',
    ])
    expect(base.size).toBe(3)
  })

  it('merges duplicate records and deletes with DELETE or an empty REPLACE', () => {
    const next = applyPatch(base, origin, [
      replace('www', 'A', ['192.0.2.1', '192.0.2.001'.replace('001', '1')]),
    ])
    expect(next.get('www.rules.test|1')?.records).toHaveLength(1)
    const gone = applyPatch(next, origin, [{ name: 'www', type: 'A', changetype: 'DELETE' }])
    expect(gone.has('www.rules.test|1')).toBe(false)
    expect(
      errorsOf(() => applyPatch(base, origin, [{ name: '@', type: 'SOA', changetype: 'DELETE' }])),
    ).toEqual(['body/rrsets/0/type: The SOA cannot be deleted'])
  })
})

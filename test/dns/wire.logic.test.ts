import dnsPacket from 'dns-packet'
import { describe, expect, it } from 'vitest'
import { Resolver } from '../../workers/dns/resolver'
import { respondToBytes, type ServerPorts } from '../../workers/dns/server'
import { WireError } from '../../workers/dns/wire/bytes'
import { decodeMessage, emptyMessage, encodeMessage, question } from '../../workers/dns/wire/message'
import { formatRdata, parseRdata } from '../../workers/dns/wire/rdata'
import { tokenize } from '../../workers/dns/wire/text'
import { RCODE, TYPE, typeCode } from '../../workers/dns/wire/types'
import { randomInt, seededBytes, seededRandom } from '../support/seeded'

/** Presentation text of every type the zones hold, as `dig` prints it. */
const SAMPLES: Array<[string, string]> = [
  ['A', '192.0.2.1'],
  ['AAAA', '2001:db8::1'],
  ['CNAME', 'target.example.com.'],
  ['MX', '10 mail.example.com.'],
  ['TXT', '"v=spf1 -all" "second string"'],
  ['NS', 'ns1.example.com.'],
  ['SOA', 'ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300'],
  ['SRV', '10 60 5060 sip.example.com.'],
  ['CAA', '0 issue "letsencrypt.org"'],
  ['PTR', 'host.example.com.'],
  ['HTTPS', '1 . alpn="h2,h3" port=8443 ipv4hint=192.0.2.1 ipv6hint=2001:db8::1'],
  ['SVCB', '2 svc.example.com. alpn="h3" port=443'],
  ['DS', '12345 13 2 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789'],
  ['URI', '10 1 "https://origin.example/base"'],
  ['TYPE65400', '\\# 4 DEADBEEF'],
]

function rdata(type: string, text: string) {
  return parseRdata(typeCode(type) as number, tokenize(text), 'example.com')
}

describe('record data', () => {
  it.each(SAMPLES)('%s round-trips through the wire form', (type, text) => {
    const code = typeCode(type) as number
    expect(formatRdata(code, rdata(type, text))).toBe(text)
  })

  it('reads the same records dns-packet reads', () => {
    const response = emptyMessage(1)
    response.qr = true
    for (const [type, text] of SAMPLES.slice(0, 10)) {
      response.answers.push({
        name: 'x.example.com',
        type: typeCode(type) as number,
        class: 1,
        ttl: 60,
        data: rdata(type, text),
      })
    }
    const decoded = dnsPacket.decode(Buffer.from(encodeMessage(response)))
    expect(decoded.answers?.map((a) => a.type)).toEqual(SAMPLES.slice(0, 10).map(([type]) => type))
    expect((decoded.answers as Array<{ data: unknown }>)[3]?.data).toEqual({
      preference: 10,
      exchange: 'mail.example.com',
    })
    expect((decoded.answers as Array<{ data: { serial: number } }>)[6]?.data.serial).toBe(2024010101)
  })

  it('refuses bad data: a long TXT string, a bad address, too few fields', () => {
    expect(() => rdata('TXT', `"${'x'.repeat(256)}"`)).toThrow(/255/)
    expect(() => rdata('A', '192.0.2.256')).toThrow(/IPv4/)
    expect(() => rdata('MX', '10')).toThrow(/Too few/)
    expect(() => rdata('TYPE65400', '\\# 3 DEADBEEF')).toThrow(/3 octets/)
  })
})

describe('messages', () => {
  it('decodes a dns-packet query with EDNS and keeps the name case', () => {
    const bytes = dnsPacket.encode({
      type: 'query',
      id: 77,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type: 'AAAA', name: 'WwW.ExAmple.COM' }],
      additionals: [
        { type: 'OPT', name: '.', udpPayloadSize: 1232, flags: dnsPacket.DNSSEC_OK, options: [] } as never,
      ],
    })
    const message = decodeMessage(new Uint8Array(bytes))
    expect(message).toMatchObject({
      id: 77,
      rd: true,
      questions: [{ name: 'WwW.ExAmple.COM', type: TYPE.AAAA }],
    })
    expect(message.edns).toMatchObject({ udpSize: 1232, dnssecOk: true, version: 0 })
  })

  it('compresses repeated names and dns-packet reads them', () => {
    const response = emptyMessage(9)
    response.qr = true
    response.questions = [question('www.example.com', TYPE.A)]
    for (let i = 0; i < 5; i++)
      response.answers.push({
        name: 'www.example.com',
        type: TYPE.A,
        class: 1,
        ttl: 60,
        data: Uint8Array.of(192, 0, 2, i),
      })
    const bytes = encodeMessage(response)
    // Header 12 + question 21 (17-byte name), then five records whose owner is a 2-byte pointer (16 each).
    expect(bytes.length).toBe(12 + 21 + 5 * 16)
    const decoded = dnsPacket.decode(Buffer.from(bytes))
    expect(decoded.answers?.map((a) => (a as { data: string }).data)).toEqual([
      '192.0.2.0',
      '192.0.2.1',
      '192.0.2.2',
      '192.0.2.3',
      '192.0.2.4',
    ])
  })

  it('truncates to the size limit: header and question with TC, OPT kept', () => {
    const response = emptyMessage(3)
    response.qr = true
    response.questions = [question('big.example.com', TYPE.TXT)]
    response.edns = { udpSize: 512, version: 0, dnssecOk: false, options: [] }
    for (let i = 0; i < 10; i++)
      response.answers.push({
        name: 'big.example.com',
        type: TYPE.TXT,
        class: 1,
        ttl: 60,
        data: rdata('TXT', `"${'y'.repeat(100)}${i}"`),
      })
    const bytes = encodeMessage(response, 512)
    expect(bytes.length).toBeLessThanOrEqual(512)
    const decoded = decodeMessage(bytes)
    expect(decoded.tc).toBe(true)
    expect(decoded.answers).toEqual([])
    expect(decoded.edns?.udpSize).toBe(512)
    expect(decodeMessage(encodeMessage(response)).answers).toHaveLength(10)
  })

  it('carries the extended RCODE in the OPT record (BADVERS = 16)', () => {
    const response = emptyMessage(5)
    response.qr = true
    response.rcode = RCODE.BADVERS
    response.edns = { udpSize: 1232, version: 0, dnssecOk: false, options: [] }
    expect(decodeMessage(encodeMessage(response)).rcode).toBe(16)
  })

  it('refuses pointer loops, forward pointers and trailing bytes', () => {
    const header = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]
    expect(() => decodeMessage(Uint8Array.from([...header, 0xc0, 12, 0, 1, 0, 1]))).toThrow(WireError)
    expect(() => decodeMessage(Uint8Array.from([...header, 0xc0, 40, 0, 1, 0, 1]))).toThrow(WireError)
    expect(() => decodeMessage(Uint8Array.from([...header, 0, 0, 1, 0, 1, 9]))).toThrow(WireError)
    expect(decodeMessage(Uint8Array.from([...header, 0, 0, 1, 0, 1])).questions).toEqual([
      { name: '', type: 1, class: 1 },
    ])
  })
})

describe('fuzzing the query path (seeded)', () => {
  const ports: ServerPorts = {
    hostedZones: async () => new Set(),
    closestZone: async () => undefined,
    queryZone: async () => {
      throw new Error('no zones here')
    },
    forward: async () => {
      throw new Error('no upstreams here')
    },
  }
  const valid = new Uint8Array(
    dnsPacket.encode({
      type: 'query',
      id: 1,
      flags: 0,
      questions: [{ type: 'A', name: 'a.example.com' }],
      additionals: [
        { type: 'OPT', name: '.', udpPayloadSize: 4096, options: [{ code: 'PADDING', length: 8 }] } as never,
      ],
    }),
  )

  it('answers 3,000 random and mutated packets with a DNS message, never a throw', async () => {
    const random = seededRandom(20261202)
    const bytes = seededBytes(random)
    const resolver = new Resolver()
    const rcodes = new Map<number, number>()
    for (let i = 0; i < 3000; i++) {
      let packet: Uint8Array
      if (i % 2 === 0) packet = bytes(randomInt(random, 0, 80))
      else {
        packet = valid.slice(0, randomInt(random, 0, valid.length))
        for (let flips = randomInt(random, 1, 6); flips > 0; flips--)
          if (packet.length > 0) packet[randomInt(random, 0, packet.length - 1)] = randomInt(random, 0, 255)
      }
      const response = await respondToBytes(packet, ports, resolver, {}, 0)
      const encoded = encodeMessage(response)
      expect(decodeMessage(encoded).qr).toBe(true)
      rcodes.set(response.rcode, (rcodes.get(response.rcode) ?? 0) + 1)
    }
    expect(rcodes.get(RCODE.FORMERR)).toBeGreaterThan(1000)
  })
})

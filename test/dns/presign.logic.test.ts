/**
 * The pre-signed zone of the signed export: which records are signed, the NSEC chain's
 * order and bitmaps, glue left unsigned. (Cryptographic validity is checked by
 * `ldns-verify-zone` in the e2e suite.)
 */
import { describe, expect, it } from 'vitest'
import { generateKeyMaterial, ZoneSigner } from '../../workers/dns/dnssec'
import { formatSignedZone, presignZone } from '../../workers/dns/presign'
import type { ResourceRecord } from '../../workers/dns/wire/message'
import { compareCanonical } from '../../workers/dns/wire/names'
import { formatRdata } from '../../workers/dns/wire/rdata'
import { TYPE, typeName } from '../../workers/dns/wire/types'
import { Zone } from '../../workers/dns/zone'
import { EXAMPLE_ZONE, zoneFrom } from './zones'

const NOW = Date.UTC(2026, 11, 2, 12) / 1000

async function signedExample() {
  const signer = await ZoneSigner.create('example.com', await generateKeyMaterial())
  const base = zoneFrom(EXAMPLE_ZONE, 'example.com')
  const zone = new Zone('example.com', [
    ...base.all(),
    { name: 'example.com', type: TYPE.DNSKEY, ttl: 3600, records: [{ content: '', data: signer.dnskey }] },
  ])
  const groups = await presignZone(zone, signer, NOW)
  return { signer, zone, groups, records: groups.flat() }
}

const text = (record: ResourceRecord) => formatRdata(record.type, record.data)
const covered = (rrsig: ResourceRecord) => text(rrsig).split(' ')[0]

describe('pre-signed zone export', () => {
  it('signs every authoritative RRset once, never a cut’s NS or its glue', async () => {
    const { zone, records, signer } = await signedExample()
    const signatures = records.filter((r) => r.type === TYPE.RRSIG)
    const signedKeys = signatures.map((r) => `${r.name}|${covered(r)}`)
    expect(new Set(signedKeys).size).toBe(signedKeys.length)
    const expected = zone
      .all()
      .filter((set) => !['child.example.com', 'ns.child.example.com'].includes(set.name))
      .map((set) => `${set.name}|${typeName(set.type)}`)
    const nsecOwners = records.filter((r) => r.type === TYPE.NSEC).map((r) => `${r.name}|NSEC`)
    expect(signedKeys.sort()).toEqual([...expected, ...nsecOwners].sort())
    expect(signedKeys).not.toContain('child.example.com|NS')
    expect(records.some((r) => r.name === 'ns.child.example.com' && r.type === TYPE.A)).toBe(true)
    for (const rrsig of signatures) {
      const fields = text(rrsig).split(' ')
      expect(fields[6]).toBe(String(signer.keyTag))
      expect(fields[7]).toBe('example.com.')
    }
    const wildcard = signatures.find((r) => r.name === '*.apps.example.com') as ResourceRecord
    expect(text(wildcard).split(' ')[2]).toBe('3') // labels without the "*"
  })

  it('chains every authoritative name in canonical order back to the apex, with exact bitmaps', async () => {
    const { records } = await signedExample()
    const nsecs = records.filter((r) => r.type === TYPE.NSEC)
    const owners = nsecs.map((r) => r.name)
    expect([...owners].sort(compareCanonical)).toEqual(owners)
    expect(owners).not.toContain('ns.child.example.com')
    expect(owners).not.toContain('b.c.example.com') // an empty non-terminal
    nsecs.forEach((nsec, i) => {
      const next = text(nsec).split(' ')[0]
      expect(next).toBe(`${owners[i + 1] ?? 'example.com'}.`)
      expect(nsec.ttl).toBe(300)
    })
    const bitmap = (name: string) =>
      text(nsecs.find((r) => r.name === name) as ResourceRecord)
        .split(' ')
        .slice(1)
    expect(bitmap('example.com')).toEqual(['NS', 'SOA', 'MX', 'TXT', 'RRSIG', 'NSEC', 'DNSKEY', 'CAA'])
    expect(bitmap('child.example.com')).toEqual(['NS', 'RRSIG', 'NSEC'])
    expect(bitmap('*.apps.example.com')).toEqual(['A', 'RRSIG', 'NSEC'])
  })

  it('writes a master file with the SOA first and one record per line', async () => {
    const { groups, records } = await signedExample()
    const file = formatSignedZone('example.com', groups)
    const lines = file.trim().split('\n')
    expect(lines[0]).toBe('$ORIGIN example.com.')
    expect(lines[1]).toMatch(/^example\.com\.\t3600\tIN\tSOA\t/)
    expect(lines[2]).toMatch(/^example\.com\.\t3600\tIN\tRRSIG\tSOA 13 2 3600 /)
    expect(lines).toHaveLength(records.length + 1)
  })
})

/**
 * A pre-signed copy of a zone (RFC 4035 §2), for the signed zone file export: what a zone
 * signer such as `dnssec-signzone` or `ldns-signzone` would write, with the zone's own key.
 *
 * Guarantees:
 * - Authoritative names are the apex, every owner not below a zone cut, and the cuts
 *   themselves; records below a cut (glue, occluded data) and non-NS/DS records at a cut
 *   are written unsigned and stay out of the chain.
 * - A full NSEC chain over the authoritative names in canonical order (RFC 4034 §6.1), the
 *   last pointing back to the apex; each bitmap lists the name's types plus RRSIG and
 *   NSEC (at a cut only NS and DS besides them). Empty non-terminals own no
 *   NSEC (RFC 4035 §2.3). NSEC TTL = the negative TTL, min(SOA TTL, MINIMUM) (RFC 9077).
 * - One RRSIG over every authoritative RRset (the DNSKEY RRset, the SOA, each NSEC, DS at
 *   cuts), never over a cut's NS RRset or glue. Signatures carry the online signer's
 *   validity (an hour back, a week ahead) and are shared with its cache.
 * Online answers keep compact denial (signing.ts); this chain exists only in the export.
 * Costs: O(n log n) to order n RRsets (times the labels for the cut lookups), one ECDSA
 * signature per RRset not cached.
 */
import { findCut, negativeSoa } from './answer'
import type { ZoneSigner } from './dnssec'
import { Writer } from './wire/bytes'
import type { ResourceRecord } from './wire/message'
import { compareCanonical, fqdn, lowerName, nameToWire } from './wire/names'
import { writeBitmap } from './wire/nsec-rrsig'
import { formatRdata } from './wire/rdata'
import { CLASS_IN, TYPE, typeName } from './wire/types'
import type { RRset, Zone } from './zone'

/** Every authoritative RRset of a zone with its RRSIG, plus the NSEC chain, in canonical order. */
export async function presignZone(
  zone: Zone,
  signer: ZoneSigner,
  nowSeconds: number,
): Promise<ResourceRecord[][]> {
  const origin = lowerName(zone.origin)
  const byName = new Map<string, RRset[]>()
  for (const rrset of zone.all()) {
    const name = lowerName(rrset.name)
    byName.set(name, [...(byName.get(name) ?? []), rrset])
  }
  const names = [...byName.keys()].sort(compareCanonical)
  // Authoritative: not below a cut; at a cut only NS and DS are the parent's.
  const authoritative = (name: string, type: number) => {
    const cut = findCut(zone, name)
    return cut === undefined || (lowerName(cut.name) === name && (type === TYPE.NS || type === TYPE.DS))
  }
  const chained = names.filter((name) =>
    (byName.get(name) as RRset[]).some((set) => authoritative(name, set.type)),
  )
  const nextOf = new Map(chained.map((name, i) => [name, chained[i + 1] ?? origin]))
  const nsecTtl = negativeSoa(zone).ttl
  const groups: ResourceRecord[][] = []
  for (const name of names) {
    const sets = (byName.get(name) as RRset[]).sort((a, b) => a.type - b.type)
    const isCut = name !== origin && sets.some((set) => set.type === TYPE.NS)
    const types: number[] = []
    for (const set of sets) {
      const records = set.records.map((record) => ({
        name: set.name,
        type: set.type,
        class: CLASS_IN,
        ttl: set.ttl,
        data: record.data,
      }))
      if (!authoritative(name, set.type)) {
        groups.push(records)
        continue
      }
      types.push(set.type)
      // A cut's NS RRset belongs to the child: listed in the NSEC bitmap, never signed.
      const signed = !(isCut && set.type === TYPE.NS)
      groups.push(signed ? [...records, await signer.sign(records, nowSeconds)] : records)
    }
    const next = nextOf.get(name)
    if (next === undefined) continue
    // The NSEC is signed at every name, a cut included, so RRSIG is always in its bitmap.
    const nsec = nsecRecord(name, next, [...types, TYPE.RRSIG, TYPE.NSEC], nsecTtl)
    groups.push([nsec, await signer.sign([nsec], nowSeconds)])
  }
  return groups
}

function nsecRecord(name: string, next: string, types: number[], ttl: number): ResourceRecord {
  const w = new Writer()
  w.bytes(nameToWire(next, true))
  writeBitmap(w, types)
  return { name, type: TYPE.NSEC, class: CLASS_IN, ttl, data: w.finish() }
}

/** The signed zone as a master file: `$ORIGIN`, the SOA's group first, one record per line. */
export function formatSignedZone(origin: string, groups: ResourceRecord[][]): string {
  const rank = (group: ResourceRecord[]) => (group[0]?.type === TYPE.SOA ? 0 : 1)
  const ordered = [...groups].sort((a, b) => rank(a) - rank(b))
  const lines = [`$ORIGIN ${fqdn(origin)}`]
  for (const group of ordered) {
    for (const record of group)
      lines.push(
        `${fqdn(record.name)}\t${record.ttl}\tIN\t${typeName(record.type)}\t${formatRdata(record.type, record.data)}`,
      )
  }
  return `${lines.join('\n')}\n`
}

/**
 * Authoritative answers from one zone (RFC 1034 §4.3.2, RFC 2308, RFC 4592, RFC 8482).
 *
 * Guarantees: AA on every answer from zone data, not on referrals; NXDOMAIN when the name
 * and no wildcard exist, NODATA (NOERROR, empty answer) when the name exists without the
 * type, both with the zone's SOA in the authority section whose TTL is the negative TTL
 * min(SOA TTL, SOA MINIMUM); CNAME chains followed inside the zone (at most 8 links, a loop
 * or a target below a zone cut ends the chain); wildcards synthesize the query name as owner; a delegation point below
 * the apex answers with its NS RRset and in-zone glue; ANY gets one RRset. Owner names that
 * match the query keep the query's case (0x20). Costs: O(labels × chain length) map lookups.
 */
import { type ClientContext, selectRecords } from './policy'
import type { Question, ResourceRecord } from './wire/message'
import { escapeLabel, labelsOf, lowerName, nameOf, sameName } from './wire/names'
import { rdataTarget } from './wire/rdata'
import { CLASS_IN, RCODE, TYPE } from './wire/types'
import type { RRset, Zone } from './zone'

export interface Answer {
  rcode: number
  /** Authoritative answer (false for a referral). */
  aa: boolean
  answers: ResourceRecord[]
  authorities: ResourceRecord[]
  additionals: ResourceRecord[]
  /** What kind of answer this is: for logs, tests and the resolver. */
  kind: 'answer' | 'nodata' | 'nxdomain' | 'referral' | 'cname-out'
  /** The name the answer ends at (the last CNAME target), for NSEC and the resolver. */
  finalName: string
}

export const MAX_CNAME_CHAIN = 8

export function toRecords(rrset: RRset, owner: string, context?: ClientContext): ResourceRecord[] {
  const values = context ? selectRecords(rrset, context) : rrset.records
  return values.map((value) => ({
    name: owner,
    type: rrset.type,
    class: CLASS_IN,
    ttl: rrset.ttl,
    data: value.data,
  }))
}

/** The SOA as it goes into a negative answer: TTL = min(SOA TTL, SOA MINIMUM) (RFC 2308 §5). */
export function negativeSoa(zone: Zone): ResourceRecord {
  const soa = zone.soa
  const data = (soa.records[0] as { data: Uint8Array }).data
  const minimum = new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(data.length - 4)
  return { name: zone.origin, type: TYPE.SOA, class: CLASS_IN, ttl: Math.min(soa.ttl, minimum), data }
}

/** The delegation point at or above `name` and strictly below the apex, if any (topmost first). */
export function findCut(zone: Zone, name: string): RRset | undefined {
  const origin = lowerName(zone.origin)
  const lowered = lowerName(name)
  if (lowered === origin || !zone.contains(lowered)) return undefined
  // Names between the apex (exclusive) and `name` (inclusive), from the top down.
  const relative = lowered.slice(0, lowered.length - origin.length - (origin === '' ? 0 : 1))
  const labels = relative.includes('\\') ? labelsOf(relative).map(escapeLabel) : relative.split('.')
  let candidate = origin
  for (let i = labels.length - 1; i >= 0; i--) {
    candidate = candidate === '' ? (labels[i] as string) : `${labels[i]}.${candidate}`
    const ns = zone.get(candidate, TYPE.NS)
    if (ns) return ns
  }
  return undefined
}

function glueFor(zone: Zone, ns: RRset): ResourceRecord[] {
  const glue: ResourceRecord[] = []
  for (const record of ns.records) {
    const target = rdataTarget(TYPE.NS, record.data)
    if (target === undefined || !zone.contains(target)) continue
    for (const type of [TYPE.A, TYPE.AAAA]) {
      const address = zone.get(target, type)
      if (address) glue.push(...toRecords(address, target))
    }
  }
  return glue
}

/** The RRsets at `name`, or at the wildcard that covers it (RFC 4592 §3.3.1), if either exists. */
export function lookup(zone: Zone, name: string): RRset[] | undefined {
  if (zone.exists(name)) return zone.at(name)
  const labels = labelsOf(name)
  for (let i = 1; i < labels.length; i++) {
    const encloser = nameOf(labels.slice(i))
    if (!zone.contains(encloser)) break
    if (zone.exists(encloser)) {
      const wildcard = zone.at(`*.${encloser}`)
      return wildcard.length > 0 ? wildcard : undefined
    }
  }
  return undefined
}

export function answerQuestion(zone: Zone, question: Question, context: ClientContext): Answer {
  const answers: ResourceRecord[] = []
  const seen = new Set<string>()
  let name = question.name
  const finish = (rest: Omit<Answer, 'answers' | 'finalName'>): Answer => ({
    ...rest,
    answers,
    finalName: name,
  })
  for (;;) {
    seen.add(lowerName(name))
    const cut = findCut(zone, name)
    if (cut && !(question.type === TYPE.DS && sameName(cut.name, name))) {
      return finish({
        rcode: RCODE.NOERROR,
        aa: answers.length > 0,
        authorities: toRecords(cut, cut.name),
        additionals: glueFor(zone, cut),
        kind: 'referral',
      })
    }
    const rrsets = lookup(zone, name)
    if (!rrsets) {
      return finish({
        rcode: RCODE.NXDOMAIN,
        aa: true,
        authorities: [negativeSoa(zone)],
        additionals: [],
        kind: 'nxdomain',
      })
    }
    const cname = rrsets.find((set) => set.type === TYPE.CNAME)
    if (cname && question.type !== TYPE.CNAME && question.type !== TYPE.ANY) {
      answers.push(...toRecords(cname, name, context))
      const target = rdataTarget(TYPE.CNAME, (cname.records[0] as { data: Uint8Array }).data) as string
      const stop =
        seen.has(lowerName(target)) ||
        seen.size >= MAX_CNAME_CHAIN ||
        !zone.contains(target) ||
        findCut(zone, target) !== undefined
      if (stop) {
        name = target
        return finish({ rcode: RCODE.NOERROR, aa: true, authorities: [], additionals: [], kind: 'cname-out' })
      }
      name = target
      continue
    }
    const wanted =
      question.type === TYPE.ANY
        ? rrsets.find((set) => set.type !== TYPE.RRSIG && set.type !== TYPE.NSEC)
        : rrsets.find((set) => set.type === question.type)
    if (wanted) {
      answers.push(...toRecords(wanted, name, context))
      return finish({ rcode: RCODE.NOERROR, aa: true, authorities: [], additionals: [], kind: 'answer' })
    }
    return finish({
      rcode: RCODE.NOERROR,
      aa: true,
      authorities: [negativeSoa(zone)],
      additionals: [],
      kind: 'nodata',
    })
  }
}

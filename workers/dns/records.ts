/**
 * RRset changes as users send them (PowerDNS-style PATCH: REPLACE or DELETE whole RRsets)
 * checked against the RFCs before anything is stored:
 * names ≤ 253 characters and labels ≤ 63 (RFC 1035), IDN labels turned into punycode
 * (RFC 5891), `*` only as the leftmost label (RFC 4592), owners inside the zone, RDATA that
 * parses for its type (TXT strings ≤ 255 octets), CNAME alone at its name, once, never at
 * the apex (RFC 1034 §3.6.2, RFC 2181 §10.1), SOA only at the apex and only one, duplicate
 * records merged (RFC 2181 §5), and the DNSSEC types left to the platform's signer.
 * Guarantees: `applyPatch` either returns the whole new state or throws; nothing partial.
 */
import type * as v from 'valibot'
import { DNS_LIMITS, type RRsetPatch, type RRsetView as RRsetViewSchema } from '../../schemas/dns'
import { AppError, type FieldError } from '../platform/errors'
import type { RecordAttributes, RoutingPolicy } from './routing-policy'
import { isAtOrBelow, lowerName, NameError, sameName } from './wire/names'
import { formatRdata, parseRdata } from './wire/rdata'
import { PresentationError, tokenize } from './wire/text'
import { isMetaType, TYPE, typeCode, typeName } from './wire/types'
import type { RRset } from './zone'

export type RRsetChange = v.InferOutput<typeof RRsetPatch>
export type RRsetView = v.InferOutput<typeof RRsetViewSchema>

export const DEFAULT_TTL = 3600

/** Types whose RDATA names are compared without case (RFC 4034 §6.2): stored lowercase. */
const LOWERCASE_CONTENT = new Set<number>([TYPE.NS, TYPE.CNAME, TYPE.SOA, TYPE.PTR, TYPE.MX, TYPE.SRV])

/** Types the platform keeps itself. */
const PLATFORM_TYPES = new Set<number>([TYPE.RRSIG, TYPE.NSEC, TYPE.DNSKEY, TYPE.OPT])

function invalid(path: string, message: string): AppError {
  return new AppError('validation_failed', message, { errors: [{ path, message }] })
}

/** Labels with non-ASCII characters as punycode (IDNA, RFC 5891); undefined when one cannot be. */
export function toAsciiName(name: string): string | undefined {
  if (!/[^\x20-\x7e]/.test(name)) return name
  try {
    return name
      .split('.')
      .map((label) =>
        /[^\x20-\x7e]/.test(label) ? new URL(`http://${label}.invalid`).hostname.slice(0, -8) : label,
      )
      .join('.')
  } catch {
    return undefined
  }
}

/** A domain name as users write it → lowercase ASCII without the trailing dot; throws a 400 problem. */
export function normalizeName(input: string, path = 'name'): string {
  const trimmed = input.trim().replace(/\.$/, '')
  if (trimmed === '' || trimmed === '@') throw invalid(path, 'Expected a domain name')
  const ascii = toAsciiName(trimmed)
  if (ascii === undefined) throw invalid(path, `"${input}" is not a valid internationalized name`)
  const text = lowerName(ascii)
  if (text.length > DNS_LIMITS.maxNameLength) throw invalid(path, 'A name is at most 253 characters')
  const labels = text.split('.')
  for (const [i, label] of labels.entries()) {
    if (label.length === 0) throw invalid(path, `"${input}" has an empty label`)
    if (label.length > 63) throw invalid(path, `The label "${label}" is over 63 characters`)
    if (label === '*' && i === 0) continue
    if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?$/.test(label))
      throw invalid(
        path,
        `The label "${label}" may hold letters, digits, "-" and "_" only (and "*" alone, leftmost)`,
      )
  }
  return text
}

/** An RRset's owner: `@`, a name relative to the zone, or an absolute name inside it. */
export function ownerName(input: string, origin: string, path: string): string {
  const trimmed = input.trim()
  if (trimmed === '@' || trimmed === `${origin}.` || trimmed === origin) return origin
  const absolute = trimmed.endsWith('.') || isAtOrBelow(trimmed.toLowerCase(), origin)
  const name = normalizeName(absolute ? trimmed : `${trimmed}.${origin}`, path)
  if (!isAtOrBelow(name, origin)) throw invalid(path, `"${input}" is not inside the zone ${origin}`)
  return name
}

export function rrsetKey(name: string, type: number): string {
  return `${lowerName(name)}|${type}`
}

/** Parses one record's content for `type` with the zone as origin; stored in canonical text. */
export function parseContent(type: number, content: string, origin: string, path: string) {
  const text = LOWERCASE_CONTENT.has(type) ? content.toLowerCase() : content
  try {
    const data = parseRdata(type, tokenize(text), origin)
    return { content: formatRdata(type, data), data }
  } catch (error) {
    if (error instanceof PresentationError || error instanceof NameError) throw invalid(path, error.message)
    throw error
  }
}

/**
 * The zone's RRsets after the changes, keyed by `rrsetKey`. Throws a 400 problem listing
 * every failing field; the input map is not modified.
 */
export function applyPatch(
  current: ReadonlyMap<string, RRset>,
  origin: string,
  changes: RRsetChange[],
): Map<string, RRset> {
  const next = new Map(current)
  const errors: FieldError[] = []
  changes.forEach((change, i) => {
    const at = `body/rrsets/${i}`
    try {
      const name = ownerName(change.name, origin, `${at}/name`)
      const type = typeCode(change.type)
      if (type === undefined || isMetaType(type))
        throw invalid(`${at}/type`, `"${change.type}" is not a record type`)
      if (PLATFORM_TYPES.has(type))
        throw invalid(`${at}/type`, `${typeName(type)} records are kept by the platform's signer`)
      if (type === TYPE.SOA && !sameName(name, origin))
        throw invalid(`${at}/name`, 'SOA lives at the apex only')
      const key = rrsetKey(name, type)
      const records = change.records ?? []
      if (change.changetype === 'DELETE' || records.length === 0) {
        if (type === TYPE.SOA) throw invalid(`${at}/type`, 'The SOA cannot be deleted')
        next.delete(key)
        return
      }
      const values = new Map<string, { content: string; data: Uint8Array; attributes: RecordAttributes }>()
      records.forEach((record, j) => {
        if (record.pool !== undefined && change.policy?.kind !== 'failover')
          throw invalid(`${at}/records/${j}/pool`, 'A pool is the health source of a failover policy only')
        const parsed = parseContent(type, record.content, origin, `${at}/records/${j}/content`)
        const { content: _, ...attributes } = record
        values.set(parsed.content, { ...parsed, attributes })
      })
      const list = [...values.values()]
      if ((type === TYPE.SOA || type === TYPE.CNAME) && list.length > 1)
        throw invalid(`${at}/records`, `A ${typeName(type)} RRset holds exactly one record`)
      const policy: RoutingPolicy | undefined = change.policy
        ? {
            kind: change.policy.kind,
            attributes: list.map((value) => value.attributes),
            ...(change.policy.healthCheck ? { healthCheck: change.policy.healthCheck } : {}),
          }
        : undefined
      next.set(key, {
        name,
        type,
        ttl: change.ttl ?? current.get(key)?.ttl ?? DEFAULT_TTL,
        records: list.map(({ content, data }) => ({ content, data })),
        ...(policy ? { policy } : {}),
      })
    } catch (error) {
      if (!(error instanceof AppError) || !error.errors) throw error
      errors.push(...error.errors)
    }
  })
  if (errors.length === 0) errors.push(...checkZone(next, origin))
  if (errors.length > 0) throw new AppError('validation_failed', 'The RRset changes are invalid.', { errors })
  return next
}

/** Whole-zone rules that a single RRset cannot check: CNAME exclusivity, the size bound. */
export function checkZone(rrsets: ReadonlyMap<string, RRset>, origin: string): FieldError[] {
  const errors: FieldError[] = []
  const typesByName = new Map<string, number[]>()
  for (const rrset of rrsets.values()) {
    const name = lowerName(rrset.name)
    typesByName.set(name, [...(typesByName.get(name) ?? []), rrset.type])
  }
  for (const [name, types] of typesByName) {
    if (!types.includes(TYPE.CNAME)) continue
    if (sameName(name, origin)) errors.push({ path: 'body/rrsets', message: 'No CNAME at the zone apex' })
    else if (types.some((type) => type !== TYPE.CNAME))
      errors.push({ path: 'body/rrsets', message: `${name} has a CNAME and other records (RFC 1034 §3.6.2)` })
  }
  if (rrsets.size > DNS_LIMITS.maxRRsetsPerZone)
    errors.push({
      path: 'body/rrsets',
      message: `A zone holds at most ${DNS_LIMITS.maxRRsetsPerZone} RRsets`,
    })
  return errors
}

/** The SOA RRset with a new serial (the platform's, bumped on every change). */
export function withSerial(soa: RRset, serial: number): RRset {
  const old = (soa.records[0] as { data: Uint8Array }).data
  const data = old.slice()
  new DataView(data.buffer).setUint32(data.length - 20, serial)
  return { ...soa, records: [{ content: formatRdata(TYPE.SOA, data), data }] }
}

export function serialOf(soa: RRset): number {
  const data = (soa.records[0] as { data: Uint8Array }).data
  return new DataView(data.buffer, data.byteOffset, data.byteLength).getUint32(data.length - 20)
}

/** The load balancer pools an RRset's failover records take their health from. */
export function poolsOf(rrset: RRset): string[] {
  if (rrset.policy?.kind !== 'failover') return []
  return rrset.policy.attributes.flatMap((attributes) => (attributes.pool ? [attributes.pool] : []))
}

/** An RRset as the API shows it: records with their policy attributes and health (checked or pooled). */
export function toView(
  rrset: RRset,
  healthOf: (rrset: RRset, index: number) => boolean | undefined,
): RRsetView {
  const view: RRsetView = {
    name: rrset.name,
    type: typeName(rrset.type),
    ttl: rrset.ttl,
    records: rrset.records.map((record, i) => {
      const watched = rrset.policy?.healthCheck || rrset.policy?.attributes[i]?.pool
      const healthy = watched ? healthOf(rrset, i) : undefined
      return {
        content: record.content,
        ...rrset.policy?.attributes[i],
        ...(healthy !== undefined ? { healthy } : {}),
      }
    }),
  }
  if (rrset.policy) {
    view.policy = {
      kind: rrset.policy.kind,
      ...(rrset.policy.healthCheck ? { healthCheck: rrset.policy.healthCheck } : {}),
    }
  }
  return view
}

/** A new zone's SOA (serial 1) and NS RRsets, keyed by `rrsetKey`. */
export function apexRRsets(origin: string, nameservers: string[]): Map<string, RRset> {
  const primary = nameservers[0] ?? `ns1.${origin}`
  const soa = parseContent(
    TYPE.SOA,
    `${primary}. hostmaster.${origin}. 1 7200 3600 1209600 300`,
    origin,
    'soa',
  )
  const ns = nameservers.map((name) => parseContent(TYPE.NS, `${name}.`, origin, 'ns'))
  return new Map<string, RRset>([
    [rrsetKey(origin, TYPE.SOA), { name: origin, type: TYPE.SOA, ttl: 3600, records: [soa] }],
    [rrsetKey(origin, TYPE.NS), { name: origin, type: TYPE.NS, ttl: 3600, records: ns }],
  ])
}

/**
 * Record types, classes and response codes by number and mnemonic. A type without a
 * mnemonic is written `TYPE<n>` (RFC 3597 §5) and still travels as opaque RDATA.
 */

export const TYPE = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  HINFO: 13,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  DS: 43,
  RRSIG: 46,
  NSEC: 47,
  DNSKEY: 48,
  SVCB: 64,
  HTTPS: 65,
  ANY: 255,
  URI: 256,
  CAA: 257,
} as const

export type TypeName = keyof typeof TYPE

const NAME_BY_TYPE = new Map<number, string>(Object.entries(TYPE).map(([name, code]) => [code, name]))

export function typeName(type: number): string {
  return NAME_BY_TYPE.get(type) ?? `TYPE${type}`
}

/** `"MX"` or `"TYPE15"` → 15; undefined for anything else. */
export function typeCode(text: string): number | undefined {
  const upper = text.toUpperCase()
  if (Object.hasOwn(TYPE, upper)) return TYPE[upper as TypeName]
  const generic = /^TYPE(\d{1,5})$/.exec(upper)?.[1]
  return generic !== undefined && Number(generic) <= 65535 ? Number(generic) : undefined
}

export const CLASS_IN = 1
/** QCLASS ANY (RFC 1035 §3.2.5). */
export const CLASS_ANY = 255

export const RCODE = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
  BADVERS: 16,
} as const

export const OPCODE_QUERY = 0

/** EDNS option codes (RFC 6891 §6.1.2 registry). */
export const EDNS_OPTION = {
  CLIENT_SUBNET: 8,
  EXTENDED_ERROR: 15,
} as const

/** Extended DNS Error info codes (RFC 8914 §4) this server reports. */
export const EDE = {
  OTHER: 0,
  DNSSEC_BOGUS: 6,
  STALE_ANSWER: 3,
  PROHIBITED: 18,
  NOT_AUTHORITATIVE: 20,
  NOT_SUPPORTED: 21,
  NO_REACHABLE_AUTHORITY: 22,
  NETWORK_ERROR: 23,
} as const

/** Meta and pseudo types that never live in a zone (RFC 6895 §3.1). */
export function isMetaType(type: number): boolean {
  return type === TYPE.OPT || (type >= 128 && type <= 255)
}

/**
 * Routing policies: which records of an RRset an answer carries.
 *
 * - `weighted`: one record, chosen with probability weight / sum of weights (a record
 *   with weight 0 is never chosen while another has weight > 0).
 * - `geo`: the records whose `countries` contain the client's country (from the edge's
 *   request metadata) or whose `subnets` contain the EDNS Client Subnet address; else the
 *   records marked as default (`countries` containing `*`, or neither list).
 * - `failover`: the healthy `primary` records; if none is healthy, the healthy `secondary`
 *   ones; if nothing is healthy, the primaries (failing open, never an empty answer).
 *   A record's health is its load balancer pool's when it names one (`pool`), else the
 *   last result of the RRset's own HTTP check; a record with no result yet counts as healthy.
 * - `nearest`: the record whose `region` is closest (great circle) to the client's
 *   coordinates; without coordinates, the first record.
 *
 * Deterministic given the context: randomness and health come in as functions.
 * Costs: O(records) per answer.
 */
import type { RecordAttributes } from './routing-policy'
import { parseIpv4, parseIpv6 } from './wire/text'
import type { RecordValue, RRset } from './zone'

export interface ClientContext {
  /** ISO 3166 alpha-2, upper case. */
  country?: string
  latitude?: number
  longitude?: number
  /** The EDNS Client Subnet address bytes (4 or 16) and family. */
  subnet?: { family: 1 | 2; address: Uint8Array }
  /** Uniform in [0, 1). */
  random: () => number
  /**
   * The health of the RRset's record `index` (its pool's, or its last HTTP check),
   * undefined when unknown.
   */
  healthy: (rrset: RRset, index: number) => boolean | undefined
}

/** Region codes (Cloudflare's location hints) and a representative latitude/longitude. */
export const REGIONS: Record<string, [number, number]> = {
  wnam: [37.4, -122.1],
  enam: [39.0, -77.5],
  sam: [-23.5, -46.6],
  weur: [50.1, 8.7],
  eeur: [52.2, 21.0],
  apac: [1.35, 103.8],
  oc: [-33.9, 151.2],
  afr: [-26.2, 28.0],
  me: [25.3, 55.3],
}

export function selectRecords(rrset: RRset, context: ClientContext): RecordValue[] {
  const policy = rrset.policy
  const records = rrset.records
  if (!policy || records.length <= 1) return records
  const attrs = (i: number): RecordAttributes => policy.attributes[i] ?? {}
  switch (policy.kind) {
    case 'weighted': {
      const weights = records.map((_, i) => Math.max(0, attrs(i).weight ?? 1))
      const total = weights.reduce((a, b) => a + b, 0)
      if (total === 0) return [records[0] as RecordValue]
      let point = context.random() * total
      for (let i = 0; i < records.length; i++) {
        point -= weights[i] as number
        if (point < 0) return [records[i] as RecordValue]
      }
      return [records.at(-1) as RecordValue]
    }
    case 'geo': {
      const matching = records.filter((_, i) => {
        const { countries = [], subnets = [] } = attrs(i)
        const byCountry = context.country !== undefined && countries.includes(context.country)
        const subnet = context.subnet
        return byCountry || (subnet !== undefined && subnets.some((cidr) => inCidr(subnet.address, cidr)))
      })
      if (matching.length > 0) return matching
      const defaults = records.filter((_, i) => {
        const { countries, subnets } = attrs(i)
        return countries?.includes('*') || (!countries?.length && !subnets?.length)
      })
      return defaults.length > 0 ? defaults : records
    }
    case 'failover': {
      const healthy = (i: number) => context.healthy(rrset, i) !== false
      const role = (i: number) => attrs(i).role ?? 'primary'
      const pick = (wanted: string, needHealthy: boolean) =>
        records.filter((_, i) => role(i) === wanted && (!needHealthy || healthy(i)))
      for (const [wanted, needHealthy] of [
        ['primary', true],
        ['secondary', true],
        ['primary', false],
      ] as const) {
        const chosen = pick(wanted, needHealthy)
        if (chosen.length > 0) return chosen
      }
      return records
    }
    case 'nearest': {
      const { latitude, longitude } = context
      if (latitude === undefined || longitude === undefined) return [records[0] as RecordValue]
      let best = 0
      let bestDistance = Number.POSITIVE_INFINITY
      records.forEach((_, i) => {
        const at = REGIONS[attrs(i).region ?? '']
        const distance = at ? greatCircle(latitude, longitude, at[0], at[1]) : Number.POSITIVE_INFINITY
        if (distance < bestDistance) [best, bestDistance] = [i, distance]
      })
      return [records[best] as RecordValue]
    }
  }
}

/** The central angle between two points, in radians (haversine). */
function greatCircle(lat1: number, lon1: number, lat2: number, lon2: number): number {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 2 * Math.asin(Math.min(1, Math.sqrt(h)))
}

/** Whether the address bytes fall in `cidr` (IPv4 `a.b.c.d/n` or IPv6 `x::/n`). */
export function inCidr(address: Uint8Array, cidr: string): boolean {
  const [base = '', bitsText = ''] = cidr.split('/')
  const network = parseAddress(base)
  const bits = Number(bitsText)
  if (!network || network.length !== address.length || !(bits >= 0 && bits <= network.length * 8))
    return false
  for (let bit = 0; bit < bits; bit++) {
    const mask = 0x80 >> (bit & 7)
    if (((network[bit >> 3] as number) & mask) !== ((address[bit >> 3] as number) & mask)) return false
  }
  return true
}

function parseAddress(text: string): Uint8Array | undefined {
  try {
    return text.includes(':') ? parseIpv6(text) : parseIpv4(text)
  } catch {
    return undefined
  }
}

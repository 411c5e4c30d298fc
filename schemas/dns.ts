/**
 * Schemas of the DNS block (`/v1/dns`): zones, RRsets and their routing policies, zone
 * files, and the DNS JSON API (`/resolve`). Names and record data are checked further by
 * the block (RFC rules need parsing); the bounds a client can hit are here.
 */
import * as v from 'valibot'
import { ResourceName } from './common'

export const DNS_LIMITS = {
  /** A name in presentation form, without the trailing dot (RFC 1035: 255 octets on the wire). */
  maxNameLength: 253,
  maxRecordsPerRRset: 100,
  maxRRsetsPerPatch: 1000,
  maxRRsetsPerZone: 10_000,
  maxContentLength: 4096,
  maxTtl: 2_147_483_647,
  /** A zone file's size in bytes. */
  maxZoneFileBytes: 1024 * 1024,
  /** A DNS message over DoH (RFC 8484 allows 65,535). */
  maxMessageBytes: 65_535,
} as const

const DomainName = v.pipe(
  v.string(),
  v.minLength(1, 'Must not be empty'),
  v.maxLength(DNS_LIMITS.maxNameLength + 1, `At most ${DNS_LIMITS.maxNameLength} characters`),
)

export const ZoneParam = v.object({ zone: DomainName })

const Ttl = v.pipe(v.number(), v.integer('Whole seconds'), v.minValue(0), v.maxValue(DNS_LIMITS.maxTtl))

const TypeText = v.pipe(
  v.string(),
  v.regex(/^([A-Za-z]{1,10}|TYPE\d{1,5})$/i, 'A type mnemonic like "A" or "TYPE65534"'),
)

const HealthCheck = v.object({
  scheme: v.optional(v.picklist(['http', 'https']), 'http'),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535)), 80),
  path: v.optional(v.pipe(v.string(), v.regex(/^\/[^\s]{0,255}$/, 'A path starting with "/"')), '/'),
  intervalSeconds: v.optional(v.pipe(v.number(), v.integer(), v.minValue(10), v.maxValue(3600)), 30),
  expectStatusBelow: v.optional(v.pipe(v.number(), v.integer(), v.minValue(200), v.maxValue(599)), 399),
})

export const RecordInput = v.object({
  content: v.pipe(v.string(), v.minLength(1), v.maxLength(DNS_LIMITS.maxContentLength)),
  /** `weighted`: relative weight, 0–1000 (default 1). */
  weight: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0), v.maxValue(1000))),
  /** `geo`: ISO 3166 alpha-2 country codes, or `*` for the default records. */
  countries: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^([A-Z]{2}|\*)$/, 'Two capital letters or "*"'))),
      v.maxLength(250),
    ),
  ),
  /** `geo`: CIDR blocks matched against EDNS Client Subnet. */
  subnets: v.optional(
    v.pipe(
      v.array(v.pipe(v.string(), v.regex(/^[0-9A-Fa-f:.]{2,45}\/\d{1,3}$/, 'A CIDR block'))),
      v.maxLength(100),
    ),
  ),
  /** `failover`: primary (default) or secondary. */
  role: v.optional(v.picklist(['primary', 'secondary'])),
  /** `nearest`: a region code (wnam, enam, sam, weur, eeur, apac, oc, afr, me). */
  region: v.optional(v.picklist(['wnam', 'enam', 'sam', 'weur', 'eeur', 'apac', 'oc', 'afr', 'me'])),
  /**
   * `failover`: a load balancer pool of the zone's owner whose live health is this record's
   * (healthy while the pool is up or in panic, unhealthy when it is down or gone).
   */
  pool: v.optional(ResourceName),
})

export const RRsetPatch = v.object({
  name: DomainName,
  type: TypeText,
  changetype: v.picklist(['REPLACE', 'DELETE']),
  ttl: v.optional(Ttl),
  records: v.optional(v.pipe(v.array(RecordInput), v.maxLength(DNS_LIMITS.maxRecordsPerRRset))),
  policy: v.optional(
    v.object({
      kind: v.picklist(['weighted', 'geo', 'failover', 'nearest']),
      healthCheck: v.optional(HealthCheck),
    }),
  ),
})

export const PatchZoneRequest = v.object({
  rrsets: v.pipe(v.array(RRsetPatch), v.minLength(1), v.maxLength(DNS_LIMITS.maxRRsetsPerPatch)),
})

export const CreateZoneRequest = v.object({
  /** Sign the zone online from the start (ECDSA P-256). */
  dnssec: v.optional(v.boolean(), false),
  rrsets: v.optional(v.pipe(v.array(RRsetPatch), v.maxLength(DNS_LIMITS.maxRRsetsPerPatch)), []),
})

export const DnssecRequest = v.object({ enabled: v.boolean() })

export const RRsetQuery = v.object({
  name: v.optional(DomainName),
  type: v.optional(TypeText),
  limit: v.optional(
    v.pipe(v.string(), v.regex(/^\d{1,5}$/), v.transform(Number), v.minValue(1), v.maxValue(10_000)),
    '1000',
  ),
  cursor: v.optional(v.pipe(v.string(), v.maxLength(1024))),
})

export const RecordView = v.object({
  content: v.string(),
  weight: v.optional(v.number()),
  countries: v.optional(v.array(v.string())),
  subnets: v.optional(v.array(v.string())),
  role: v.optional(v.string()),
  region: v.optional(v.string()),
  pool: v.optional(v.string()),
  healthy: v.optional(v.boolean()),
})

export const RRsetView = v.object({
  name: v.string(),
  type: v.string(),
  ttl: v.number(),
  records: v.array(RecordView),
  policy: v.optional(v.object({ kind: v.string(), healthCheck: v.optional(HealthCheck) })),
})

export const RRsetList = v.object({ items: v.array(RRsetView), nextCursor: v.optional(v.string()) })

export const ZoneView = v.object({
  name: v.string(),
  serial: v.number(),
  dnssec: v.boolean(),
  /** DS records (presentation form) to publish at the parent when signed. */
  ds: v.array(v.string()),
  dnskey: v.array(v.string()),
  rrsetCount: v.number(),
  createdAt: v.number(),
})

export const ZoneList = v.object({
  items: v.array(v.object({ name: v.string(), createdAt: v.number() })),
  nextCursor: v.optional(v.string()),
})

export const ImportQuery = v.object({
  /** `replace` (default): the file becomes the zone; `merge`: its RRsets replace same-named ones. */
  mode: v.optional(v.picklist(['replace', 'merge']), 'replace'),
})

export const ExportQuery = v.object({
  /** `true`: the zone pre-signed (DNSKEY, an RRSIG over every RRset, a full NSEC chain); the zone must be signed. */
  dnssec: v.optional(v.picklist(['true', 'false', '1', '0']), 'false'),
})

export const ImportResult = v.object({ serial: v.number(), rrsets: v.number() })

/** `GET /resolve?name=&type=` (the JSON API of the public resolvers). */
export const ResolveQuery = v.object({
  name: DomainName,
  type: v.optional(v.pipe(v.string(), v.regex(/^([A-Za-z]{1,10}|TYPE\d{1,5}|\d{1,5})$/i)), 'A'),
  do: v.optional(v.string()),
  cd: v.optional(v.string()),
  edns_client_subnet: v.optional(v.pipe(v.string(), v.maxLength(50))),
})

export const DnsJson = v.object({
  Status: v.number(),
  TC: v.boolean(),
  RD: v.boolean(),
  RA: v.boolean(),
  AD: v.boolean(),
  CD: v.boolean(),
  Question: v.array(v.object({ name: v.string(), type: v.number() })),
  Answer: v.optional(
    v.array(v.object({ name: v.string(), type: v.number(), TTL: v.number(), data: v.string() })),
  ),
  Authority: v.optional(
    v.array(v.object({ name: v.string(), type: v.number(), TTL: v.number(), data: v.string() })),
  ),
  Comment: v.optional(v.string()),
})

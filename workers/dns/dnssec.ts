/**
 * Online DNSSEC signing with ECDSA P-256 / SHA-256 (algorithm 13, RFC 6605).
 *
 * One combined signing key per zone (flags 257, it signs every RRset), DS with SHA-256
 * (digest type 2) for the parent. Answers are signed when they leave: each RRset gets an
 * RRSIG over its canonical form (RFC 4034 §6: lowercase uncompressed owner, records sorted
 * by RDATA), valid from an hour ago for a week, so an online signer can sign wildcard
 * expansions under the query name itself. Denial is "compact" (RFC 9824): a single NSEC
 * at the query name whose next name is `\000.<name>`, listing the types that exist there
 * (RRSIG, NSEC and NXNAME for a name that does not exist, which is then NOERROR).
 * Costs: one ECDSA signature per RRset not in the signature cache (entries are reused until
 * a day before they expire).
 */
import { IsolateCache } from '../platform/isolate-cache'
import { Writer } from './wire/bytes'
import type { ResourceRecord } from './wire/message'
import { labelsOf, lowerName, nameToWire } from './wire/names'
import { writeBitmap } from './wire/nsec-rrsig'
import { formatRdata } from './wire/rdata'
import { CLASS_IN, TYPE } from './wire/types'

export const ALGORITHM_ECDSAP256SHA256 = 13
/** Type NXNAME (RFC 9824): marks a compact-denial NSEC of a name that does not exist. */
export const TYPE_NXNAME = 128

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const

export interface KeyMaterial {
  /** The private key as a JWK (kept in the zone's object). */
  privateJwk: JsonWebKey
}

export async function generateKeyMaterial(): Promise<KeyMaterial> {
  const pair = (await crypto.subtle.generateKey(EC, true, ['sign', 'verify'])) as CryptoKeyPair
  return { privateJwk: (await crypto.subtle.exportKey('jwk', pair.privateKey)) as JsonWebKey }
}

function base64urlBytes(text: string): Uint8Array {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (char) => char.charCodeAt(0))
}

/** DNSKEY RDATA: flags 257 (zone key, secure entry point), protocol 3, algorithm 13, x‖y. */
export function dnskeyRdata(material: KeyMaterial): Uint8Array {
  const { x = '', y = '' } = material.privateJwk
  const w = new Writer()
  w.u16(257)
  w.u8(3)
  w.u8(ALGORITHM_ECDSAP256SHA256)
  w.bytes(base64urlBytes(x))
  w.bytes(base64urlBytes(y))
  return w.finish()
}

/** The key tag (RFC 4034 Appendix B). */
export function keyTag(dnskey: Uint8Array): number {
  let sum = 0
  dnskey.forEach((byte, i) => {
    sum += i & 1 ? byte : byte << 8
  })
  sum += (sum >> 16) & 0xffff
  return sum & 0xffff
}

/** DS RDATA with a SHA-256 digest of owner ‖ DNSKEY RDATA (RFC 4509). */
export async function dsRdata(origin: string, dnskey: Uint8Array): Promise<Uint8Array> {
  const owner = nameToWire(origin, true)
  const input = new Uint8Array(owner.length + dnskey.length)
  input.set(owner)
  input.set(dnskey, owner.length)
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', input))
  const w = new Writer()
  w.u16(keyTag(dnskey))
  w.u8(ALGORITHM_ECDSAP256SHA256)
  w.u8(2)
  w.bytes(digest)
  return w.finish()
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++)
    if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number)
  return a.length - b.length
}

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')

export class ZoneSigner {
  private readonly signatures = new IsolateCache<ResourceRecord>(6 * 24 * 3600 * 1000, 20_000)
  readonly dnskey: Uint8Array
  readonly keyTag: number

  private constructor(
    readonly origin: string,
    private readonly key: CryptoKey,
    material: KeyMaterial,
  ) {
    this.dnskey = dnskeyRdata(material)
    this.keyTag = keyTag(this.dnskey)
  }

  static async create(origin: string, material: KeyMaterial): Promise<ZoneSigner> {
    const key = await crypto.subtle.importKey('jwk', material.privateJwk, EC, false, ['sign'])
    return new ZoneSigner(lowerName(origin), key, material)
  }

  /** The RRSIG of one RRset (all `records` share owner, type and TTL). */
  async sign(records: ResourceRecord[], nowSeconds: number): Promise<ResourceRecord> {
    const first = records[0] as ResourceRecord
    const sorted = [...records].sort((a, b) => compareBytes(a.data, b.data))
    const cacheKey = `${lowerName(first.name)}|${first.type}|${first.ttl}|${sorted.map((r) => hex(r.data)).join(',')}`
    const cached = this.signatures.lookup(cacheKey, nowSeconds * 1000)
    if (cached) return { ...cached.value, name: first.name }
    const inception = Math.floor(nowSeconds / 3600) * 3600 - 3600
    const expiration = inception + 7 * 24 * 3600
    const owner = nameToWire(first.name, true)
    const header = new Writer()
    header.u16(first.type)
    header.u8(ALGORITHM_ECDSAP256SHA256)
    header.u8(labelsOf(first.name).filter((label, i) => !(i === 0 && label === '*')).length)
    header.u32(first.ttl)
    header.u32(expiration)
    header.u32(inception)
    header.u16(this.keyTag)
    header.bytes(nameToWire(this.origin, true))
    const signed = new Writer()
    signed.bytes(header.finish())
    let previous: Uint8Array | undefined
    for (const record of sorted) {
      if (previous && compareBytes(previous, record.data) === 0) continue
      previous = record.data
      signed.bytes(owner)
      signed.u16(record.type)
      signed.u16(CLASS_IN)
      signed.u32(first.ttl)
      signed.u16(record.data.length)
      signed.bytes(record.data)
    }
    const signature = new Uint8Array(
      await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, this.key, signed.finish()),
    )
    const rdata = new Writer()
    rdata.bytes(header.finish())
    rdata.bytes(signature)
    const rrsig = {
      name: first.name,
      type: TYPE.RRSIG,
      class: CLASS_IN,
      ttl: first.ttl,
      data: rdata.finish(),
    }
    this.signatures.set(cacheKey, rrsig, nowSeconds * 1000)
    return rrsig
  }

  /** Adds an RRSIG after each RRset of the section (records grouped by owner and type). */
  async signSection(section: ResourceRecord[], nowSeconds: number): Promise<ResourceRecord[]> {
    const groups = new Map<string, ResourceRecord[]>()
    for (const record of section) {
      if (record.type === TYPE.RRSIG) continue
      const key = `${lowerName(record.name)}|${record.type}`
      groups.set(key, [...(groups.get(key) ?? []), record])
    }
    const out: ResourceRecord[] = []
    for (const group of groups.values()) out.push(...group, await this.sign(group, nowSeconds))
    return out
  }
}

/** The compact-denial NSEC at `name` (RFC 9824): next name `\000.<name>`, the given types. */
export function compactNsec(name: string, types: number[], ttl: number): ResourceRecord {
  const w = new Writer()
  w.bytes(nameToWire(`\\000.${name}`, true))
  writeBitmap(w, [...types, TYPE.RRSIG, TYPE.NSEC])
  return { name, type: TYPE.NSEC, class: CLASS_IN, ttl, data: w.finish() }
}

/** Presentation text of DS and DNSKEY for the zone view. */
export async function publishedKeys(
  origin: string,
  dnskey: Uint8Array,
): Promise<{ ds: string; dnskey: string }> {
  return {
    ds: `${origin}. IN DS ${formatRdata(TYPE.DS, await dsRdata(origin, dnskey))}`,
    dnskey: `${origin}. IN DNSKEY ${formatRdata(TYPE.DNSKEY, dnskey)}`,
  }
}

/**
 * A zone in memory: RRsets indexed by lowercase owner name and type, plus every name that
 * exists (owners and the empty non-terminals between them and the apex, RFC 4592 §2.2.2),
 * so a lookup is one map access and existence is one set lookup.
 */
import type { RoutingPolicy } from './routing-policy'
import { ancestorsOf, isAtOrBelow, lowerName } from './wire/names'
import { TYPE } from './wire/types'

export interface RecordValue {
  /** Presentation text of the RDATA. */
  content: string
  /** Stored RDATA (names uncompressed). */
  data: Uint8Array
}

export interface RRset {
  /** The owner name as the user wrote it (no trailing dot). */
  name: string
  type: number
  ttl: number
  records: RecordValue[]
  /** How the answer is chosen among the records; all of them without one. */
  policy?: RoutingPolicy
}

export class Zone {
  private readonly sets = new Map<string, Map<number, RRset>>()
  private readonly names = new Set<string>()

  constructor(
    readonly origin: string,
    rrsets: Iterable<RRset>,
  ) {
    for (const rrset of rrsets) this.add(rrset)
  }

  private add(rrset: RRset): void {
    const key = lowerName(rrset.name)
    const byType = this.sets.get(key) ?? new Map<number, RRset>()
    this.sets.set(key, byType)
    byType.set(rrset.type, rrset)
    for (const name of ancestorsOf(key)) {
      if (this.names.has(name)) break
      this.names.add(name)
      if (name === lowerName(this.origin)) break
    }
  }

  get(name: string, type: number): RRset | undefined {
    return this.sets.get(lowerName(name))?.get(type)
  }

  /** Every RRset at a name, by type number. */
  at(name: string): RRset[] {
    return [...(this.sets.get(lowerName(name))?.values() ?? [])].sort((a, b) => a.type - b.type)
  }

  /** Whether the name owns records or has descendants that do. */
  exists(name: string): boolean {
    return this.names.has(lowerName(name))
  }

  contains(name: string): boolean {
    return isAtOrBelow(name, this.origin)
  }

  get soa(): RRset {
    const soa = this.get(this.origin, TYPE.SOA)
    if (!soa) throw new Error(`Zone ${this.origin} has no SOA`)
    return soa
  }

  all(): RRset[] {
    return [...this.sets.values()].flatMap((byType) => [...byType.values()])
  }
}

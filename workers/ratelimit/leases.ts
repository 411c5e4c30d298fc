/**
 * Token leases: a global limit without one object call per request (the gateway's path).
 *
 * An isolate leases a batch of units from the key's object — one transaction that spends them
 * there, exactly as that many requests would — and admits requests locally until the batch is
 * used up or `LEASE_TTL_MS` has passed. Units left in an expired lease are given back with the
 * isolate's next lease call (for GCRA the object moves its theoretical arrival time back, as if
 * they had never been spent). The lease size adapts per key: it doubles while the isolate uses a
 * whole lease within its lifetime, up to `maxLeaseFor(burst)`, and falls to what was used when a
 * lease expires with units left, so a quiet isolate holds almost nothing.
 *
 * Guarantee: every admitted request spends a unit its object granted, so grants obey the
 * algorithm's own bound (at most burst + limit·t/period in any t ms); an admission trails its
 * grant by less than one lease lifetime, so in any interval the platform admits at most that
 * bound plus the units isolates hold: ≤ burst + limit·t/period + I × maxLeaseFor(burst), with I
 * the isolates holding leases of the key. A burst under 200 leases one unit at a time: exact,
 * as before. Units lost with an isolate that dies are under-admission, never over.
 * Cost: one object call per lease instead of per request; O(1) local work per request.
 */

/** How long leased units may be spent; after that they go back to the object. */
export const LEASE_TTL_MS = 1_000

/** The largest lease for a key whose burst is `burst`: 1 below 200, then burst/100, at most 64. */
export function maxLeaseFor(burst: number): number {
  return Math.max(1, Math.min(64, Math.floor(burst / 100)))
}

interface Lease<Note> {
  /** What the caller noted with the last grant (the gateway: the object's decision). */
  note: Note | undefined
  /** Units still to spend locally. */
  units: number
  expiresAt: number
  /** The size of the last lease asked for. */
  size: number
  /** Units spent since the last lease was granted. */
  used: number
  /** Units to give back with the next lease call. */
  giveBack: number
}

/** What the next lease call asks for: `want` units (≥ 1), giving back `giveBack`. */
export interface LeaseRequest {
  want: number
  giveBack: number
}

/** One isolate's leases, by key. Plain values only: nothing here is shared I/O. */
export class LeaseBook<Note = undefined> {
  private readonly leases = new Map<string, Lease<Note>>()

  constructor(private readonly maxKeys = 10_000) {}

  /**
   * Spends one locally leased unit of `key` and returns the note of its grant (`{ note }`);
   * undefined when none is live (then ask the object with `request`).
   */
  take(key: string, now: number): { note: Note | undefined } | undefined {
    const lease = this.leases.get(key)
    if (!lease || lease.units === 0 || now >= lease.expiresAt) return undefined
    lease.units--
    lease.used++
    return { note: lease.note }
  }

  /** Units this isolate holds for `key` now (for the `remaining` it reports). */
  held(key: string, now: number): number {
    const lease = this.leases.get(key)
    return lease && now < lease.expiresAt ? lease.units : 0
  }

  /** The next lease call for `key`: expired units become a give-back, and the size adapts. */
  request(key: string, maxLease: number, now: number): LeaseRequest {
    const lease = this.leases.get(key)
    if (!lease) return { want: 1, giveBack: 0 }
    let size: number
    if (now >= lease.expiresAt && lease.units > 0) {
      // Expired with units left: give them back and shrink to what was really used.
      lease.giveBack += lease.units
      lease.units = 0
      size = Math.max(1, lease.used)
    } else {
      // Used up (or expired empty): this isolate is busy with the key, so grow.
      size = lease.size * 2
    }
    lease.size = Math.min(maxLease, Math.max(1, size))
    const giveBack = lease.giveBack
    lease.giveBack = 0
    return { want: lease.size, giveBack }
  }

  /**
   * Records a lease call's answer: `granted` units of which the caller spends one at once. Units
   * beyond `maxLease` held together (concurrent lease calls) are given back on the next call.
   */
  granted(key: string, granted: number, maxLease: number, now: number, note?: Note): void {
    let lease = this.leases.get(key)
    if (!lease) {
      if (this.leases.size >= this.maxKeys) this.leases.delete(this.leases.keys().next().value as string)
      lease = { note: undefined, units: 0, expiresAt: 0, size: 1, used: 0, giveBack: 0 }
      this.leases.set(key, lease)
    }
    if (granted === 0) return
    lease.note = note
    if (now >= lease.expiresAt && lease.units > 0) {
      lease.giveBack += lease.units
      lease.units = 0
    }
    const units = lease.units + granted - 1
    lease.units = Math.min(units, maxLease)
    lease.giveBack += units - lease.units
    lease.expiresAt = now + LEASE_TTL_MS
    lease.used = 1
  }

  /** Forgets `key` (its units are not given back: under-admission only). */
  forget(key: string): void {
    this.leases.delete(key)
  }
}

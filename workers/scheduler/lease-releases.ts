/**
 * Giving concurrency leases back to tenants' limits objects, in batches: releases that
 * arrive while one message is on its way travel together in the next (group commit), so
 * a burst of attempts ending costs a few messages per tenant instead of one each. A lost
 * release is harmless: a lease expires on its own and only holds its slot until then.
 */
export class LeaseReleases {
  private readonly pending = new Map<string, string[]>()
  private flushing: Promise<void> | undefined

  constructor(private readonly send: (tenant: string, leaseIds: string[]) => Promise<void>) {}

  /** Resolves once these leases (and any queued with them) have been sent. */
  release(tenant: string, leaseIds: string[]): Promise<void> {
    this.pending.set(tenant, [...(this.pending.get(tenant) ?? []), ...leaseIds])
    this.flushing ??= this.flush()
    return this.flushing
  }

  private async flush(): Promise<void> {
    try {
      while (this.pending.size > 0) {
        const batch = [...this.pending]
        this.pending.clear()
        await Promise.all(
          batch.map(async ([tenant, ids]) => {
            try {
              await this.send(tenant, ids)
            } catch {
              // The leases expire on their own.
            }
          }),
        )
      }
    } finally {
      this.flushing = undefined
    }
  }
}

/**
 * Receivers held by a long poll. A waiter sleeps on a promise until something may have
 * become visible (a send, a nack, an arrival, the alarm) or its deadline passes; the
 * object's alarm is armed for the earliest deadline, so no timer runs in memory and
 * nothing polls. A woken waiter looks again and either answers or waits anew.
 */
interface Waiter {
  deadline: number
  wake: () => void
}

export class Waiters {
  private readonly waiting = new Set<Waiter>()

  get size(): number {
    return this.waiting.size
  }

  /** Resolves at the next `wakeAll()`; the caller arms the alarm for `deadline`. */
  wait(deadline: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.waiting.add({ deadline, wake: resolve })
    })
  }

  wakeAll(): void {
    for (const waiter of this.waiting) waiter.wake()
    this.waiting.clear()
  }

  earliestDeadline(): number | undefined {
    let earliest: number | undefined
    for (const { deadline } of this.waiting)
      earliest = earliest === undefined ? deadline : Math.min(earliest, deadline)
    return earliest
  }
}

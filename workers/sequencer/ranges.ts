/**
 * Range allocation: a generator leases a block [start, end) of numbers from a shared
 * counter (one atomic "add N and return the new value" on the database row) and hands
 * them out from memory, one at a time, without touching the database again until the
 * block is used up.
 *
 * Guarantees: the counter only grows, so blocks leased by anyone never overlap and every
 * number is handed out at most once. Blocks are kept in the order leased and must each
 * start at or above the end of the previous one, so one allocator's numbers strictly
 * increase. The unused rest of a block lives only in memory: after a crash it is skipped,
 * never reissued (gaps allowed, duplicates never).
 * Costs: one database round trip per block (amortised over `blockSize` numbers); a crash
 * wastes at most one block; O(count) to hand out `count` numbers.
 */

/** Numbers from `start` (inclusive) to `end` (exclusive). */
export interface LeasedBlock {
  start: number
  end: number
}

export const FIRST_RANGE_NUMBER = 1

/** The block a lease of `size` bought, given the counter's value after the addition. */
export function blockEndingAt(nextAfterLease: number, size: number): LeasedBlock {
  return { start: nextAfterLease - size, end: nextAfterLease }
}

/** How many numbers to lease when `shortfall` more are needed: at least `blockSize`. */
export function leaseSizeFor(shortfall: number, blockSize: number): number {
  return Math.max(shortfall, blockSize)
}

export class RangeAllocator {
  readonly #blocks: LeasedBlock[] = []
  /** The end of the last block added: every later block starts at or above it. */
  #highWater = Number.NEGATIVE_INFINITY

  /** Numbers leased and not yet handed out. */
  get available(): number {
    let total = 0
    for (const block of this.#blocks) total += block.end - block.start
    return total
  }

  /** The leased blocks not yet used up, in the order they will be handed out. */
  get blocks(): readonly LeasedBlock[] {
    return this.#blocks.map((block) => ({ ...block }))
  }

  add(block: LeasedBlock): void {
    if (!Number.isSafeInteger(block.start) || !Number.isSafeInteger(block.end) || block.end <= block.start) {
      throw new RangeError(`Not a block of numbers: [${block.start}, ${block.end})`)
    }
    if (block.start < this.#highWater) {
      throw new RangeError(`Block [${block.start}, ${block.end}) overlaps or precedes ${this.#highWater}`)
    }
    this.#blocks.push({ ...block })
    this.#highWater = block.end
  }

  /** The next `count` numbers, or undefined (handing out nothing) when fewer are leased. */
  take(count: number): number[] | undefined {
    if (count > this.available) return undefined
    const numbers: number[] = []
    while (numbers.length < count) {
      const block = this.#blocks[0] as LeasedBlock
      const fromThisBlock = Math.min(count - numbers.length, block.end - block.start)
      for (let i = 0; i < fromThisBlock; i++) numbers.push(block.start + i)
      block.start += fromThisBlock
      if (block.start === block.end) this.#blocks.shift()
    }
    return numbers
  }
}

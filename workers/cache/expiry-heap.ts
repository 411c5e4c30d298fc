/**
 * Due times of keys with a TTL: a binary min-heap of (time, key). Entries are never
 * updated in place: a key whose TTL changes gets a new entry and its old one is skipped
 * when it surfaces (the owner checks it against the key's current TTL), and the heap is
 * rebuilt from the live keys once stale entries outnumber them. O(log n) push and pop.
 */
export class ExpiryHeap {
  private items: Array<[number, string]> = []

  get size(): number {
    return this.items.length
  }

  peek(): [number, string] | undefined {
    return this.items[0]
  }

  push(at: number, key: string): void {
    const items = this.items
    items.push([at, key])
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      const above = items[parent] as [number, string]
      if (above[0] <= at) break
      items[parent] = items[i] as [number, string]
      items[i] = above
      i = parent
    }
  }

  pop(): [number, string] | undefined {
    const items = this.items
    const top = items[0]
    const last = items.pop()
    if (!top || !last || items.length === 0) return top
    items[0] = last
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let smallest = i
      if (
        left < items.length &&
        (items[left] as [number, string])[0] < (items[smallest] as [number, string])[0]
      )
        smallest = left
      if (
        right < items.length &&
        (items[right] as [number, string])[0] < (items[smallest] as [number, string])[0]
      )
        smallest = right
      if (smallest === i) return top
      const swap = items[smallest] as [number, string]
      items[smallest] = items[i] as [number, string]
      items[i] = swap
      i = smallest
    }
  }

  /** Replaces the contents with `live` (time, key) pairs. */
  reset(live: Array<[number, string]> = []): void {
    this.items = live.sort((a, b) => a[0] - b[0])
  }
}

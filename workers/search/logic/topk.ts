/**
 * Top-k selection under a total order: a bounded binary max-heap keeps the k smallest
 * items seen (the worst of them on top), so choosing the best k of n costs O(n log k)
 * comparisons instead of sorting all n.
 *
 * `selectTop` also handles keys that are only known as lower bounds at first (proximity
 * before it is computed): the k best by lower bound are made exact first, which sets a
 * threshold; any other item whose lower bound is not below the current k-th exact key
 * cannot reach the top and is never made exact. The result equals sorting every item by
 * its exact key and taking the first k.
 */

export class BoundedHeap<T> {
  private readonly items: T[] = []

  constructor(
    private readonly capacity: number,
    private readonly compare: (a: T, b: T) => number,
  ) {}

  get size(): number {
    return this.items.length
  }

  get full(): boolean {
    return this.items.length >= this.capacity
  }

  /** The worst item kept (undefined when empty). */
  worst(): T | undefined {
    return this.items[0]
  }

  /** Keeps `item` if it is among the k smallest so far. */
  offer(item: T): void {
    if (this.capacity <= 0) return
    const items = this.items
    if (items.length < this.capacity) {
      items.push(item)
      let i = items.length - 1
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (this.compare(items[i] as T, items[parent] as T) <= 0) break
        ;[items[i], items[parent]] = [items[parent] as T, items[i] as T]
        i = parent
      }
      return
    }
    if (this.compare(item, items[0] as T) >= 0) return
    items[0] = item
    let i = 0
    for (;;) {
      const left = 2 * i + 1
      const right = left + 1
      let largest = i
      if (left < items.length && this.compare(items[left] as T, items[largest] as T) > 0) largest = left
      if (right < items.length && this.compare(items[right] as T, items[largest] as T) > 0) largest = right
      if (largest === i) break
      ;[items[i], items[largest]] = [items[largest] as T, items[i] as T]
      i = largest
    }
  }

  /** The kept items, best first. */
  sorted(): T[] {
    return [...this.items].sort(this.compare)
  }
}

/**
 * The `limit` best items by exact key, best first. `bound(item)` is a lower bound of the
 * key; `exact(item)` the key itself (it may do the costly work; called at most once per
 * item, and only for items that may reach the top).
 */
export function selectTop<T, K>(
  items: readonly T[],
  limit: number,
  compare: (a: K, b: K) => number,
  bound: (item: T) => K,
  exact: (item: T) => K,
): Array<{ item: T; key: K }> {
  if (limit <= 0 || items.length === 0) return []
  const bounds = items.map((item) => ({ item, key: bound(item) }))
  const byKey = (a: { item: T; key: K }, b: { item: T; key: K }) => compare(a.key, b.key)
  const first = new BoundedHeap(limit, byKey)
  for (const entry of bounds) first.offer(entry)
  const chosen = new Set(first.sorted().map((entry) => entry.item))
  const top = new BoundedHeap(limit, byKey)
  for (const item of chosen) top.offer({ item, key: exact(item) })
  for (const entry of bounds) {
    if (chosen.has(entry.item)) continue
    const worst = top.worst()
    if (top.full && worst && compare(entry.key, worst.key) >= 0) continue
    top.offer({ item: entry.item, key: exact(entry.item) })
  }
  return top.sorted()
}

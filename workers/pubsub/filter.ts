/**
 * Subscription filters over message attributes, evaluated before a message is delivered.
 *
 * A filter is a tree: leaves test one attribute (`equals` a value, starts with a `prefix`,
 * `exists` or not), inner nodes combine children with `and` (all), `or` (any) and `not`.
 * A subscription without a filter receives every message; a message the filter rejects is
 * never delivered to that subscription (it is skipped, not dead-lettered).
 *
 * Guarantees: evaluation is pure and total (no throw for any attributes), deterministic,
 * and short-circuits like the boolean operators it names; `{ and: [] }` is true and
 * `{ or: [] }` is false (the identities of the operators).
 * Cost: O(number of nodes) string comparisons per message; the schema bounds a filter to
 * `maxConditions` nodes and `maxDepth` levels (`filterShape` measures both).
 */

import type { AttributeFilter } from '../../schemas/pubsub-subscriptions'

export type { AttributeFilter }

export type Attributes = Readonly<Record<string, string>>

export function matchesFilter(filter: AttributeFilter | null | undefined, attributes: Attributes): boolean {
  if (!filter) return true
  if ('and' in filter) return filter.and.every((child) => matchesFilter(child, attributes))
  if ('or' in filter) return filter.or.some((child) => matchesFilter(child, attributes))
  if ('not' in filter) return !matchesFilter(filter.not, attributes)
  const value = Object.hasOwn(attributes, filter.attribute) ? attributes[filter.attribute] : undefined
  if ('equals' in filter) return value === filter.equals
  if ('prefix' in filter) return value?.startsWith(filter.prefix) ?? false
  return (value !== undefined) === filter.exists
}

/** The size of a filter: nesting depth (a leaf is 1) and number of nodes. */
export function filterShape(filter: AttributeFilter): { depth: number; nodes: number } {
  const children =
    'and' in filter ? filter.and : 'or' in filter ? filter.or : 'not' in filter ? [filter.not] : []
  let depth = 0
  let nodes = 1
  for (const child of children) {
    const shape = filterShape(child)
    depth = Math.max(depth, shape.depth)
    nodes += shape.nodes
  }
  return { depth: depth + 1, nodes }
}

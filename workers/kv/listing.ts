/**
 * Listing keys by prefix across nodes. Every node returns its first `limit` keys after the
 * cursor; the union is exact up to the smallest last key among nodes that returned a full
 * page (past it, such a node may hold keys it did not send), so the page is cut there.
 * Each key's versions are reconciled over the nodes that sent it, and keys with nothing
 * visible (tombstones, expired) are left out. Nodes that fail are skipped: a listing is
 * eventually consistent (a key whose every replica is down is missing from it).
 *
 * Cost: one query per node per page; a page may hold fewer than `limit` keys.
 */
import { AppError } from '../platform/errors'
import { decodeCursor, encodeCursor } from '../platform/registry'
import type { ConflictPolicy, Version } from './versions'
import { reconcile, visible } from './versions'

export type KeyVersions = Version & { key: string }

export interface ListedKey {
  key: string
  versions: Version[]
}

export interface ListPage {
  items: ListedKey[]
  nextCursor?: string
}

export function cursorPosition(cursor: string | undefined): string {
  return cursor === undefined ? '' : decodeCursor(cursor)
}

/** Merges per-node pages (each the rows of at most `limit` keys, in key order). */
export function mergePages(
  pages: KeyVersions[][],
  limit: number,
  policy: ConflictPolicy,
  now: number,
): ListPage {
  let cut: string | undefined
  let more = false
  for (const page of pages) {
    const keys = new Set(page.map((row) => row.key))
    const last = page.at(-1)?.key
    if (keys.size >= limit && last !== undefined) {
      more = true
      if (cut === undefined || last < cut) cut = last
    }
  }
  const byKey = new Map<string, Version[]>()
  for (const page of pages) {
    for (const row of page) {
      if (cut !== undefined && row.key > cut) continue
      byKey.set(row.key, [...(byKey.get(row.key) ?? []), row])
    }
  }
  let keys = [...byKey.keys()].sort()
  if (keys.length > limit) {
    keys = keys.slice(0, limit)
    more = true
  }
  const items: ListedKey[] = []
  for (const key of keys) {
    const shown = visible(reconcile(byKey.get(key) ?? [], policy), now)
    if (shown.length > 0) items.push({ key, versions: shown })
  }
  const last = keys.at(-1)
  return more && last !== undefined ? { items, nextCursor: encodeCursor(last) } : { items }
}

export function requireSomeNode(answered: number): void {
  if (answered === 0) throw new AppError('unavailable', 'No storage node answered the listing.')
}

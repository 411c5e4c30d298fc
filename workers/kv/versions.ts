/**
 * Versions of a key: dotted version vectors (Preguiça et al., "Dotted Version Vectors",
 * 2012), the fix for Dynamo's lost updates under concurrent writes through one node.
 *
 * Every write makes a version with a *dot* (the node that coordinated it and a counter
 * that node allocated for the key, unique per node and key) and a *context*: the vector
 * clock of everything the writer had read. A version is obsolete exactly when some other
 * version's context covers its dot (`context[dot.node] >= dot.counter`): the writer saw it.
 * Two writes with the same (or no) context never cover each other, so both survive as
 * siblings — nothing a client did not see is ever discarded. Under last-writer-wins only
 * the version with the greatest (hybrid logical clock, id) survives.
 *
 * Guarantees: `reconcile` is a join (commutative, associative, idempotent), so replicas
 * that exchange versions in any order converge to the same set. Cost: O(versions²) per
 * key, with versions = live siblings (small); a context has one entry per coordinating node.
 */
import { base64urlToText, textToBase64url } from '../platform/encoding'
import { type VectorClock, vectorMerge } from '../sequencer/clocks'

export type ConflictPolicy = 'siblings' | 'lww'

export interface Version {
  /** `<node>:<counter>`: the dot, unique per key. */
  id: string
  node: string
  counter: number
  context: VectorClock
  /** Encoded hybrid logical clock of the write (`encodeHlc`): orders versions under LWW. */
  hlc: string
  deleted: boolean
  value: Uint8Array | null
  contentType: string
  /** JSON text of the user's metadata, or null. */
  metadata: string | null
  /** Unix ms after which the version reads as absent; null = never. */
  expiresAt: number | null
}

export function versionId(node: string, counter: number): string {
  return `${node}:${counter}`
}

/** True when `clock` has seen the write that made `version`. */
export function covers(clock: VectorClock, version: Pick<Version, 'node' | 'counter'>): boolean {
  return (clock[version.node] ?? 0) >= version.counter
}

function lwwLess(a: Version, b: Version): boolean {
  return a.hlc < b.hlc || (a.hlc === b.hlc && a.id < b.id)
}

/** The versions no other version supersedes, by id. */
export function reconcile(versions: Iterable<Version>, policy: ConflictPolicy): Version[] {
  const byId = new Map<string, Version>()
  for (const version of versions) byId.set(version.id, version)
  const all = [...byId.values()]
  let survivors = all.filter(
    (version) => !all.some((other) => other.id !== version.id && covers(other.context, version)),
  )
  if (policy === 'lww' && survivors.length > 1) {
    const winner = survivors.reduce((best, next) => (lwwLess(best, next) ? next : best))
    survivors = [winner]
  }
  return survivors.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
}

/** Everything the versions have seen, their own dots included: the context a reader sends back. */
export function causalContext(versions: Iterable<Version>): VectorClock {
  let clock: VectorClock = {}
  for (const version of versions) {
    clock = vectorMerge(clock, vectorMerge(version.context, { [version.node]: version.counter }))
  }
  return clock
}

function sameContent(a: Version, b: Version): boolean {
  if (a.contentType !== b.contentType || a.metadata !== b.metadata || a.expiresAt !== b.expiresAt)
    return false
  const x = a.value ?? new Uint8Array()
  const y = b.value ?? new Uint8Array()
  return x.length === y.length && x.every((byte, i) => byte === y[i])
}

/**
 * The versions a GET shows: no tombstones, nothing expired, and one of each distinct
 * content (a write retried on another coordinator after an ambiguous failure leaves two
 * siblings with the same bytes: they read as one; the context still covers both).
 */
export function visible(versions: Version[], now: number): Version[] {
  const shown: Version[] = []
  for (const version of versions) {
    if (version.deleted || (version.expiresAt !== null && version.expiresAt <= now)) continue
    if (!shown.some((other) => sameContent(other, version))) shown.push(version)
  }
  return shown
}

/** True when the two sets hold the same version ids. */
export function sameVersions(a: Version[], b: Version[]): boolean {
  if (a.length !== b.length) return false
  const ids = new Set(a.map((version) => version.id))
  return b.every((version) => ids.has(version.id))
}

/** The entity tag of a key's current state: its version ids; `undefined` when nothing is visible. */
export function etagOf(versions: Version[], now: number): string | undefined {
  const shown = visible(versions, now)
  if (shown.length === 0) return undefined
  return `"${textToBase64url(shown.map((version) => version.id).join(','))}"`
}

export const MAX_CONTEXT_ENTRIES = 256
const CONTEXT_NODE = /^[a-z0-9][a-z0-9-]{0,63}$/

export function encodeContext(clock: VectorClock): string {
  const sorted = Object.fromEntries(Object.entries(clock).sort(([a], [b]) => (a < b ? -1 : 1)))
  return textToBase64url(JSON.stringify(sorted))
}

/** The clock in a client's context, or undefined when it is not one this API issued. */
export function decodeContext(text: string): VectorClock | undefined {
  const json = base64urlToText(text)
  if (json === undefined) return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(json)
  } catch {
    return undefined
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined
  const entries = Object.entries(parsed)
  if (entries.length > MAX_CONTEXT_ENTRIES) return undefined
  for (const [node, counter] of entries) {
    if (!CONTEXT_NODE.test(node) || !Number.isSafeInteger(counter) || (counter as number) < 1)
      return undefined
  }
  return parsed as VectorClock
}

/**
 * The Dynamo coordinator: reads and writes one key on its preference list (the first N
 * distinct nodes clockwise on the ring), with a sloppy quorum, hinted handoff and read repair.
 *
 * Write: the first healthy home node coordinates (allocates the dot and stores the version
 * in one transaction), then every other healthy home stores it in parallel. For each home
 * that is suspected or fails, the next healthy node past the homes stores it instead (a
 * fallback) and a hint for the home is recorded, delivered later by an alarm. The write
 * succeeds with ≥ W stored copies (homes + fallbacks); with fewer it answers 503 and, as in
 * Dynamo, the copies it did store remain (a later read may return them). A write answers
 * once every replica attempt has finished (each bounded by the node timeout): its latency
 * is the slowest live replica's, and a dead node costs one refused connection, then nothing
 * while it is suspected.
 *
 * Read: asks the first N healthy nodes, answers after R replies with their reconciled
 * versions. Replies that differ from the reconciled set are repaired (the missing versions
 * written back) before answering; replies arriving after the quorum are repaired in the
 * background. Cost: one round trip to R nodes, plus one per stale replica.
 */

import { AppError } from '../platform/errors'
import { ConsistentHashRing } from '../platform/hashing'
import type { FailureDetector } from '../platform/storage-nodes'
import type { ConflictPolicy, Version } from './versions'
import { reconcile, sameVersions } from './versions'

export interface ReplicaPort {
  read(node: string, ns: string, key: string): Promise<Version[]>
  store(
    node: string,
    ns: string,
    key: string,
    versions: Version[],
    policy: ConflictPolicy,
  ): Promise<Version[]>
  coordinate(
    node: string,
    ns: string,
    key: string,
    draft: Omit<Version, 'id' | 'node' | 'counter'>,
    contextCounter: number,
    policy: ConflictPolicy,
  ): Promise<{ version: Version; survivors: Version[] }>
}

export interface Hint {
  home: string
  fallback: string | null
  ns: string
  key: string
  policy: ConflictPolicy
  version: Version
}

export interface CoordinatorDeps {
  replicas: ReplicaPort
  detector: FailureDetector
  recordHints(hints: Hint[]): Promise<void>
  /** Work that may finish after the response (late read repairs). */
  defer(work: Promise<unknown>): void
}

export interface KeySpec {
  /** The namespace's storage id on the nodes (tenant, name and incarnation). */
  ns: string
  key: string
  replicas: number
  policy: ConflictPolicy
  /** The storage nodes of the namespace's ring. */
  members: string[]
  /** The ring being moved to during a rebalance: writes also reach its homes. */
  next?: string[] | null | undefined
}

/** Virtual nodes per storage node on the ring. */
export const VIRTUAL_NODES = 64
const rings = new Map<string, ConsistentHashRing>()

/** The ring over `members` (built once per isolate per member list). */
export function ringOf(members: string[]): ConsistentHashRing {
  const id = members.join(',')
  let ring = rings.get(id)
  if (!ring) {
    ring = new ConsistentHashRing(members, VIRTUAL_NODES)
    rings.set(id, ring)
  }
  return ring
}

/** Every member, in the key's preference order (its N homes first). */
export function preferenceOrder(members: string[], ns: string, key: string): string[] {
  const ring = ringOf(members)
  return ring.preferenceList(`${ns}\n${key}`, ring.size)
}

async function attempt<T>(deps: CoordinatorDeps, node: string, work: () => Promise<T>): Promise<T> {
  try {
    const result = await work()
    deps.detector.succeeded(node)
    return result
  } catch (error) {
    deps.detector.failed(node)
    throw error
  }
}

/** Reads a key with read quorum `r`; returns the reconciled versions and how many replicas answered. */
export async function quorumRead(
  deps: CoordinatorDeps,
  spec: KeySpec,
  r: number,
): Promise<{ versions: Version[]; answered: number }> {
  const order = preferenceOrder(spec.members, spec.ns, spec.key)
  const healthy = order.filter((node) => !deps.detector.isSuspected(node))
  const targets = (healthy.length >= r ? healthy : order).slice(0, spec.replicas)
  const replies = new Map<string, Version[]>()
  let failures = 0
  const pending = targets.map((node) =>
    attempt(deps, node, () => deps.replicas.read(node, spec.ns, spec.key)).then(
      (versions) => {
        replies.set(node, versions)
      },
      () => {
        failures++
      },
    ),
  )
  await new Promise<void>((resolve) => {
    let settled = 0
    for (const promise of pending) {
      void promise.then(() => {
        settled++
        if (replies.size >= r || settled === pending.length) resolve()
      })
    }
    if (pending.length === 0) resolve()
  })
  if (replies.size < r) {
    throw new AppError('unavailable', `Read quorum not reached: ${replies.size} of ${r} replicas answered.`)
  }
  const early = new Map(replies)
  const merged = reconcile([...early.values()].flat(), spec.policy)
  await Promise.all([...early].map(([node, versions]) => repair(deps, spec, node, versions, merged)))
  if (early.size < targets.length - failures) {
    deps.defer(
      Promise.allSettled(pending).then(() =>
        Promise.all(
          [...replies]
            .filter(([node]) => !early.has(node))
            .map(([node, v]) => repair(deps, spec, node, v, merged)),
        ),
      ),
    )
  }
  return { versions: merged, answered: early.size }
}

async function repair(
  deps: CoordinatorDeps,
  spec: KeySpec,
  node: string,
  has: Version[],
  merged: Version[],
): Promise<void> {
  if (sameVersions(has, merged)) return
  const ids = new Set(has.map((version) => version.id))
  const missing = merged.filter((version) => !ids.has(version.id))
  if (missing.length === 0) return
  try {
    await attempt(deps, node, () => deps.replicas.store(node, spec.ns, spec.key, missing, spec.policy))
  } catch {
    // A replica that fails its repair is repaired by the next read or by anti-entropy.
  }
}

/** Writes `draft` under a fresh dot with write quorum `w`; returns the stored version. */
export async function quorumWrite(
  deps: CoordinatorDeps,
  spec: KeySpec,
  draft: Omit<Version, 'id' | 'node' | 'counter'>,
  w: number,
): Promise<{ version: Version; survivors: Version[]; acks: number }> {
  const order = preferenceOrder(spec.members, spec.ns, spec.key)
  const homes = order.slice(0, spec.replicas)
  if (spec.next) {
    for (const node of preferenceOrder(spec.next, spec.ns, spec.key).slice(0, spec.replicas))
      if (!homes.includes(node)) homes.push(node)
  }
  const byHealth = [
    ...order.filter((node) => !deps.detector.isSuspected(node)),
    ...order.filter((node) => deps.detector.isSuspected(node)),
  ]
  let coordinated: { node: string; version: Version; survivors: Version[] } | undefined
  for (const node of byHealth) {
    try {
      const result = await attempt(deps, node, () =>
        deps.replicas.coordinate(node, spec.ns, spec.key, draft, draft.context[node] ?? 0, spec.policy),
      )
      coordinated = { node, ...result }
      break
    } catch {
      // try the next node
    }
  }
  if (!coordinated) throw new AppError('unavailable', 'No storage node accepted the write.')
  const { version } = coordinated
  const stored = new Set([coordinated.node])
  const others = homes.filter((node) => node !== coordinated.node && !deps.detector.isSuspected(node))
  await Promise.all(
    others.map((node) =>
      attempt(deps, node, () => deps.replicas.store(node, spec.ns, spec.key, [version], spec.policy)).then(
        () => stored.add(node),
        () => undefined,
      ),
    ),
  )
  const missingHomes = homes.filter((node) => !stored.has(node))
  const spare = order.filter((node) => !homes.includes(node) && !deps.detector.isSuspected(node))
  const hints: Hint[] = []
  // The coordinator itself may be a fallback (every home suspected): it stands in for the first missing home.
  if (!homes.includes(coordinated.node)) spare.unshift(coordinated.node)
  for (const home of missingHomes) {
    let fallback: string | null = null
    while (spare.length > 0 && fallback === null) {
      const node = spare.shift() as string
      if (stored.has(node)) {
        fallback = node
        break
      }
      try {
        await attempt(deps, node, () => deps.replicas.store(node, spec.ns, spec.key, [version], spec.policy))
        stored.add(node)
        fallback = node
      } catch {
        // next spare
      }
    }
    hints.push({ home, fallback, ns: spec.ns, key: spec.key, policy: spec.policy, version })
  }
  if (hints.length > 0) await deps.recordHints(hints)
  if (stored.size < w) {
    throw new AppError(
      'unavailable',
      `Write quorum not reached: ${stored.size} of ${w} replicas stored it (the stored copies remain and are handed off).`,
    )
  }
  return { version, survivors: coordinated.survivors, acks: stored.size }
}

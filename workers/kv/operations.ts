/**
 * Key operations over the coordinator, the same for every consistency level; the level
 * only chooses R and W and whether a read precedes the write.
 *
 * - eventual: R = 1, W = 1. Fast; may read stale values, no read-your-writes across requests.
 * - quorum: the namespace's R and W. With R + W > N a read overlaps every acknowledged write
 *   (read-your-writes, monotonic reads while membership is stable); sloppy fallbacks can
 *   weaken the overlap while a home node is down.
 * - strong: R = W = majority(N), every operation of the key's range serialized by its
 *   leader object (operations.ts runs inside it) with read-then-write: linearizable, as long
 *   as every write of the key uses strong mode.
 *
 * Conditional writes (`If-Match`, `If-None-Match: *`) compare against a read at the same
 * level; they are atomic only in strong mode (the leader holds the key), best effort otherwise.
 */
import { AppError } from '../platform/errors'
import { encodeHlc, type HlcTimestamp, hlcTick, type VectorClock, vectorMerge } from '../sequencer/clocks'
import { type CoordinatorDeps, type KeySpec, quorumRead, quorumWrite } from './coordinator'
import { causalContext, etagOf, type Version, visible } from './versions'

export interface Levels {
  r: number
  w: number
}

export interface WriteRequest {
  deleted: boolean
  value: Uint8Array | null
  contentType: string
  metadata: string | null
  expiresAt: number | null
  /** The client's causal context (undefined: a blind write). */
  context: VectorClock | undefined
  ifMatch?: string | undefined
  ifNoneMatch?: boolean | undefined
}

export interface ReadResult {
  versions: Version[]
  context: VectorClock
  etag: string | undefined
}

export function majority(replicas: number): number {
  return Math.floor(replicas / 2) + 1
}

export async function readKey(
  deps: CoordinatorDeps,
  spec: KeySpec,
  r: number,
  now: number,
): Promise<ReadResult> {
  const { versions } = await quorumRead(deps, spec, r)
  return { versions: visible(versions, now), context: causalContext(versions), etag: etagOf(versions, now) }
}

function latestHlc(versions: Version[]): HlcTimestamp {
  let best = { wallMs: 0, logical: 0 }
  for (const version of versions) {
    const [wall, logical] = version.hlc.split('-').map(Number)
    if (wall === undefined || logical === undefined) continue
    if (wall > best.wallMs || (wall === best.wallMs && logical > best.logical))
      best = { wallMs: wall, logical }
  }
  return best
}

/**
 * Writes (or deletes) a key. `readFirst` reads at R before writing: the written version then
 * supersedes everything read (strong mode, conditions, and deletes without a context).
 */
export async function writeKey(
  deps: CoordinatorDeps,
  spec: KeySpec,
  request: WriteRequest,
  levels: Levels,
  now: number,
  readFirst: boolean,
): Promise<{ version: Version; survivors: Version[]; acks: number }> {
  const needsRead =
    readFirst ||
    request.ifMatch !== undefined ||
    request.ifNoneMatch === true ||
    (request.deleted && request.context === undefined)
  let context: VectorClock = request.context ?? {}
  let seen: Version[] = []
  if (needsRead) {
    const { versions } = await quorumRead(deps, spec, levels.r)
    seen = versions
    const etag = etagOf(versions, now)
    if (request.ifNoneMatch && etag !== undefined)
      throw new AppError('precondition_failed', 'The key exists (If-None-Match: *).')
    if (request.ifMatch !== undefined && request.ifMatch !== '*' && request.ifMatch !== etag)
      throw new AppError('precondition_failed', 'The key changed since the given ETag (If-Match).')
    if (request.ifMatch === '*' && etag === undefined)
      throw new AppError('precondition_failed', 'The key does not exist (If-Match: *).')
    if (readFirst || request.context === undefined) context = vectorMerge(context, causalContext(versions))
  }
  const draft = {
    context,
    hlc: encodeHlc(hlcTick(latestHlc(seen), now)),
    deleted: request.deleted,
    value: request.deleted ? null : request.value,
    contentType: request.contentType,
    metadata: request.deleted ? null : request.metadata,
    expiresAt: request.expiresAt,
  }
  return quorumWrite(deps, spec, draft, levels.w)
}

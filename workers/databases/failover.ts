/**
 * Failover of a replicated database: the rules and the SQL (no I/O here; the database's
 * replicator object, replicator.ts, runs them, and promotion.ts moves the copies).
 *
 * A database fails over only when it has a synchronous replica (`POST …/replicas
 * {"synchronous":true}`). Guarantees, in the textbook's terms:
 *
 * - Semi-synchronous acknowledgement. A write pipeline on such a database is answered only
 *   after the replicator has applied the primary's change log up to the pipeline's position
 *   on at least one synchronous replica (one guarded transaction per batch, changelog.ts).
 *   When no synchronous replica takes the changes, the answer is an error (503
 *   `NOT_ACKNOWLEDGED`): the write may be committed on the primary but was not acknowledged.
 *   There is no silent fallback to asynchronous replication (unlike MySQL semi-sync's
 *   timeout): an acknowledged write is always on two copies.
 * - Epochs (Raft's terms). The replicator holds the database's epoch, starting at 1. A router
 *   learns the primary and the epoch from it before a write pipeline and asks it to
 *   acknowledge with that epoch; the replicator serializes acknowledgements and promotions,
 *   so once it has bumped the epoch, no write routed under an older epoch is ever
 *   acknowledged (the fencing token is checked at the one place every acknowledgement
 *   passes). In the copies, `_edgeblocks_epoch` holds the epoch and the role; a trigger on
 *   the change log refuses every captured write in a copy whose role is not `primary`, and
 *   a deposed primary is given role `deposed` as soon as it answers (at promotion if it is
 *   up, else from the health check when it returns). So two primaries never both
 *   acknowledge writes, and a returning old primary stops committing them once reached.
 * - No acknowledged write lost. The replicator records the highest acknowledged position;
 *   promotion picks the reachable, non-delayed, ready replica with the highest applied
 *   position and refuses (409) unless that position covers every acknowledged one. A manual
 *   switchover with the primary still up first fences it, then lets the replicas catch up
 *   to its last position, so nothing committed is lost either.
 * - Detection. With failover on, the replicator's alarm probes the primary at least every
 *   `HEALTH_INTERVAL_MS`; `FAILURES_TO_FAIL_OVER` consecutive failed probes promote.
 *   `POST /v1/databases/{db}/failover` promotes at once (a switchover).
 * - Positions stay monotonic: the new primary's log continues from its applied position,
 *   so `Edgeblocks-Replication-Position` values of the old epoch keep their meaning.
 *
 * Clients see errors only during the switch (unreachable primary, stale batons, refused
 * acknowledgements). After promotion every other copy, and the old primary once it returns,
 * is rebuilt from a checkpoint of the new primary (a full copy: simple and always right,
 * even for a copy that diverged). Cost: one replicator call and one replica transaction per
 * write pipeline (concurrent pipelines share a push), and a full copy per replica per
 * failover. Not fenced in the copies: tables the log does not capture (WITHOUT ROWID,
 * virtual); their writes are still never acknowledged under an old epoch.
 */
import { CHANGES_TABLE, CREATE_CHANGES, REPLICA_TABLE } from './changelog'

export const EPOCH_TABLE = '_edgeblocks_epoch'
export const FENCE_TRIGGER = '_edgeblocks_fence'
export const HEALTH_INTERVAL_MS = 5_000
export const FAILURES_TO_FAIL_OVER = 3
export const FENCED_MESSAGE = 'edgeblocks: this copy is not the primary of its database (fenced)'

const CREATE_EPOCH = `CREATE TABLE IF NOT EXISTS ${EPOCH_TABLE} (
  id INTEGER PRIMARY KEY CHECK (id = 1), epoch INTEGER NOT NULL, role TEXT NOT NULL)`
const CREATE_FENCE = `CREATE TRIGGER IF NOT EXISTS ${FENCE_TRIGGER} BEFORE INSERT ON ${CHANGES_TABLE}
  WHEN (SELECT role FROM ${EPOCH_TABLE} WHERE id = 1) IS NOT 'primary'
  BEGIN SELECT RAISE(ABORT, '${FENCED_MESSAGE}'); END`

/** Makes a copy the primary of `epoch` (its change log then accepts writes). */
export function primaryStatements(epoch: number): string[] {
  return [
    CREATE_CHANGES,
    CREATE_EPOCH,
    `INSERT OR REPLACE INTO ${EPOCH_TABLE} (id, epoch, role) VALUES (1, ${Math.trunc(epoch)}, 'primary')`,
    CREATE_FENCE,
  ]
}

/**
 * Promotes a replica at `position` to the primary of `epoch`: its log continues after
 * `position` (never reusing a position) and it stops being a replica.
 */
export function promoteStatements(epoch: number, position: number): string[] {
  return [
    ...primaryStatements(epoch),
    `DELETE FROM sqlite_sequence WHERE name = '${CHANGES_TABLE}'`,
    `INSERT INTO sqlite_sequence (name, seq) VALUES ('${CHANGES_TABLE}', ${Math.trunc(position)})`,
    `DROP TABLE IF EXISTS ${REPLICA_TABLE}`,
  ]
}

/** Fences a deposed primary: its change log (and so every captured write) refuses writes. */
export function deposeStatements(epoch: number): string[] {
  return [
    CREATE_CHANGES,
    CREATE_EPOCH,
    `INSERT OR REPLACE INTO ${EPOCH_TABLE} (id, epoch, role) VALUES (1, ${Math.trunc(epoch)}, 'deposed')`,
    CREATE_FENCE,
  ]
}

export interface Candidate {
  id: string
  /** The position read from the replica itself (undefined: it did not answer). */
  position: number | undefined
  ready: number
  delayMs: number
}

/**
 * The replica to promote: reachable, not delayed, holding a complete copy, the highest
 * position; undefined unless that position covers `acknowledged`.
 */
export function pickCandidate<C extends Candidate>(candidates: C[], acknowledged: number): C | undefined {
  let best: C | undefined
  for (const c of candidates) {
    if (c.position === undefined || c.delayMs > 0 || c.position < c.ready) continue
    if (!best || (best.position ?? 0) < c.position) best = c
  }
  return best && (best.position ?? 0) >= acknowledged ? best : undefined
}

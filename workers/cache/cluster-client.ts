/** What the cluster plan runs on: the client that reaches the cache nodes, and hot-key read replication settings. */
import type { Outcome } from './commands'
import type { NodeStats } from './keyspace'

export interface NodeClient {
  /** Runs commands on node `node` in order, as one synchronous batch. */
  run(node: number, commands: string[][]): Promise<Outcome[]>
  stats(node: number): Promise<NodeStats>
  /** A replica's copy of a hot key (hot-keys.ts), or null. */
  readCopy(node: number, key: string): Promise<string | null>
  /** Stores (or, with null, drops) a replica's copy until `expiresAt`. */
  storeCopy(node: number, key: string, value: string | null, expiresAt: number): Promise<void>
}

/** Hot-key read replication for a request (hot-keys.ts); absent or replicas 1: off. */
export interface Replication {
  replicas: number
  ttlMs: number
  /** Counts a read of the key and says whether it is hot. */
  observe: (key: string) => boolean
  isHot: (key: string) => boolean
  random: () => number
  now: () => number
}

/**
 * An in-process cluster: N keyspaces behind the same `NodeClient` interface the Worker
 * gives the cluster, with an injected clock and coin. The logic tests and the benchmark
 * run the real command path through it without Durable Objects.
 */
import type { NodeClient } from './cluster-client'
import { executeAll, newContext, type Outcome } from './commands'
import { Leases } from './commands/leases'
import type { EvictionPolicyName } from './eviction'
import { ReplicaCopies } from './hot-keys'
import { Keyspace, type NodeStats } from './keyspace'

export interface LocalClusterOptions {
  nodes: number
  maxmemory?: number
  policy?: EvictionPolicyName
  now?: () => number
  random?: () => number
}

export class LocalCluster implements NodeClient {
  readonly keyspaces: Keyspace[]
  readonly leases: Leases[]
  readonly copies: ReplicaCopies[]
  private readonly now: () => number
  private readonly random: () => number

  constructor(options: LocalClusterOptions) {
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
    this.keyspaces = Array.from(
      { length: options.nodes },
      () =>
        new Keyspace({
          maxmemory: options.maxmemory ?? 64 * 1024 * 1024,
          policy: options.policy ?? 'lru',
          random: this.random,
        }),
    )
    this.leases = this.keyspaces.map(() => new Leases())
    this.copies = this.keyspaces.map(() => new ReplicaCopies())
  }

  async readCopy(node: number, key: string): Promise<string | null> {
    return this.copies[node]?.read(key, this.now()) ?? null
  }

  async storeCopy(node: number, key: string, value: string | null, expiresAt: number): Promise<void> {
    this.copies[node]?.store(key, value, expiresAt)
  }

  async run(node: number, commands: string[][]): Promise<Outcome[]> {
    const ks = this.keyspaces[node]
    const leases = this.leases[node]
    if (!ks || !leases) throw new RangeError(`no node ${node}`)
    const outcomes = executeAll(newContext(ks, leases, this.now(), this.random), commands)
    ks.dirty.clear()
    ks.written.clear()
    return outcomes
  }

  async stats(node: number): Promise<NodeStats> {
    const ks = this.keyspaces[node]
    if (!ks) throw new RangeError(`no node ${node}`)
    return ks.snapshot()
  }
}

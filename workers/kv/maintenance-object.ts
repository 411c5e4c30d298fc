/**
 * `KvMaintenance`: one per namespace (`<tenant>:kv-maintenance:<namespace>`). Its alarm
 * runs the namespace's anti-entropy (with tombstone purging) every
 * `ANTI_ENTROPY_INTERVAL_MS`, and a pending rebalance once every isolate writes to both
 * rings (rebalance.ts). `run` runs anti-entropy on demand. Runs are serialized by the
 * object. `forget` (the namespace was deleted) removes its rows from every node.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import { updateResource } from '../platform/registry'
import { storageNodes } from '../platform/storage-nodes'
import { type AntiEntropySpec, type AntiEntropyStats, runAntiEntropy } from './anti-entropy'
import { forgetNamespace, KV_KIND, NAMESPACE_CACHE_MS, type NamespaceConfig } from './namespaces'
import { type RebalanceStats, rebalance } from './rebalance'
import { BUCKETS, storeVersions } from './replica'
import { antiEntropyPort, bucketVersions, dropNamespace } from './replica-ranges'
import { connect } from './service'

export const ANTI_ENTROPY_INTERVAL_MS = 10 * 60_000

interface PendingRebalance {
  to: string[]
  /** The registry version that recorded `next`; the switch is a compare-and-set on it. */
  version: number
  config: NamespaceConfig
  dueAt: number
}

declare global {
  namespace Cloudflare {
    interface Env {
      KV_MAINTENANCE: DurableObjectNamespace<KvMaintenance>
    }
  }
}

export class KvMaintenance extends HostedObject<Env> {
  private running: Promise<unknown> | undefined

  async schedule(spec: AntiEntropySpec): Promise<void> {
    await this.ctx.storage.put('spec', spec)
    await this.arm()
  }

  /** Runs anti-entropy now (after any run in progress). */
  async run(now = Date.now()): Promise<AntiEntropyStats | undefined> {
    const spec = await this.ctx.storage.get<AntiEntropySpec>('spec')
    if (!spec) return undefined
    return this.exclusive(() => this.antiEntropy(spec, now))
  }

  /** Records a rebalance to `to`, started by the alarm once isolates have seen the next ring. */
  async startRebalance(pending: Omit<PendingRebalance, 'dueAt'>): Promise<void> {
    await this.ctx.storage.put('rebalance', { ...pending, dueAt: Date.now() + NAMESPACE_CACHE_MS + 1_000 })
    await this.arm()
  }

  /** The rebalance's result once it ran (kept until the next one starts). */
  async lastRebalance(): Promise<RebalanceStats | undefined> {
    return this.ctx.storage.get<RebalanceStats>('rebalanced')
  }

  override async alarm(): Promise<void> {
    const spec = await this.ctx.storage.get<AntiEntropySpec>('spec')
    if (!spec) return
    try {
      const pending = await this.ctx.storage.get<PendingRebalance>('rebalance')
      if (pending) await this.exclusive(() => this.rebalance(spec, pending))
      else await this.run()
    } finally {
      await this.ctx.storage.setAlarm(Date.now() + ANTI_ENTROPY_INTERVAL_MS)
    }
  }

  async forget(): Promise<void> {
    const spec = await this.ctx.storage.get<AntiEntropySpec>('spec')
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
    if (!spec) return
    await Promise.all(
      storageNodes(this.env).map(async (node) =>
        dropNamespace(await connect(this.env, node.id), spec.ns).catch(() => undefined),
      ),
    )
  }

  private async arm(): Promise<void> {
    const pending = await this.ctx.storage.get<PendingRebalance>('rebalance')
    const due = pending ? pending.dueAt : Date.now() + ANTI_ENTROPY_INTERVAL_MS
    const current = await this.ctx.storage.getAlarm()
    if (current === null || current > due) await this.ctx.storage.setAlarm(due)
  }

  private exclusive<T>(work: () => Promise<T>): Promise<T> {
    const run = (this.running ?? Promise.resolve()).then(work, work)
    this.running = run.catch(() => undefined)
    return run
  }

  private async rebalance(spec: AntiEntropySpec, pending: PendingRebalance): Promise<void> {
    const env = this.env
    const stats = await rebalance(
      {
        versions: async (node, buckets) => bucketVersions(await connect(env, node), spec.ns, buckets),
        store: async (node, key, versions) => {
          await storeVersions(await connect(env, node), spec.ns, key, versions, spec.policy, Date.now())
        },
      },
      { ns: spec.ns, replicas: spec.replicas, policy: spec.policy, from: spec.members, to: pending.to },
      BUCKETS,
    )
    // The switch: compare-and-set on the version that recorded the next ring.
    await updateResource(
      env,
      spec.tenant,
      KV_KIND,
      spec.name,
      { ...pending.config, members: pending.to, next: null },
      { ifVersion: pending.version },
    )
    forgetNamespace(spec.tenant, spec.name)
    await this.ctx.storage.put('spec', { ...spec, members: pending.to })
    await this.ctx.storage.put('rebalanced', stats)
    await this.ctx.storage.delete('rebalance')
  }

  private antiEntropy(spec: AntiEntropySpec, now: number): Promise<AntiEntropyStats> {
    const env = this.env
    return runAntiEntropy(
      antiEntropyPort((node) => connect(env, node), spec.ns, spec.policy, now),
      spec,
      BUCKETS,
      now,
    )
  }
}

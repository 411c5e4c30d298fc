/**
 * `KvMaintenance`: one per namespace (`<tenant>:kv-maintenance:<namespace>`), running the
 * namespace's anti-entropy (with tombstone purging) every `ANTI_ENTROPY_INTERVAL_MS` on its
 * alarm, or on demand through `run`. Runs are serialized by the object. When the namespace
 * is deleted, `forget` removes its rows from every node and stops the alarm.
 */
import { DurableObject } from 'cloudflare:workers'
import type { Env } from '../platform/env'
import { storageNodes } from '../platform/storage-nodes'
import { type AntiEntropySpec, type AntiEntropyStats, runAntiEntropy } from './anti-entropy'
import { BUCKETS, bucketVersions, dropNamespace, leafDigests, purge, storeVersions } from './replica'
import { connect, ringFor } from './service'

export const ANTI_ENTROPY_INTERVAL_MS = 10 * 60_000

export class KvMaintenance extends DurableObject<Env> {
  private running: Promise<AntiEntropyStats> | undefined

  async schedule(spec: AntiEntropySpec): Promise<void> {
    await this.ctx.storage.put('spec', spec)
    if ((await this.ctx.storage.getAlarm()) === null)
      await this.ctx.storage.setAlarm(Date.now() + ANTI_ENTROPY_INTERVAL_MS)
  }

  /** Runs anti-entropy now (or joins the run in progress). */
  async run(now = Date.now()): Promise<AntiEntropyStats | undefined> {
    const spec = await this.ctx.storage.get<AntiEntropySpec>('spec')
    if (!spec) return undefined
    if (!this.running) {
      this.running = this.antiEntropy(spec, now).finally(() => {
        this.running = undefined
      })
    }
    return this.running
  }

  override async alarm(): Promise<void> {
    const spec = await this.ctx.storage.get<AntiEntropySpec>('spec')
    if (!spec) return
    try {
      await this.run()
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

  private antiEntropy(spec: AntiEntropySpec, now: number): Promise<AntiEntropyStats> {
    const env = this.env
    return runAntiEntropy(
      {
        leaves: async (node) => leafDigests(await connect(env, node), spec.ns),
        versions: async (node, buckets) => bucketVersions(await connect(env, node), spec.ns, buckets),
        store: async (node, key, versions) => {
          await storeVersions(await connect(env, node), spec.ns, key, versions, spec.policy, now)
        },
        purge: async (node, tombstonesBefore, expiredBefore) =>
          purge(await connect(env, node), spec.ns, tombstonesBefore, expiredBefore),
      },
      ringFor(env),
      storageNodes(env).map((node) => node.id),
      spec,
      BUCKETS,
      now,
    )
  }
}

/**
 * `KvLeader`: the leader of one key range of a namespace in strong mode, named
 * `<tenant>:kv-leader:<namespace>#<range>` (16 ranges of the Merkle buckets). Cloudflare
 * runs exactly one instance of a name at a time, so the leader is unique without an
 * election; it serializes the operations of each key (one at a time, in arrival order).
 *
 * A strong read is a majority read whose stale replies are repaired before answering (so
 * the returned state is on a majority: ABD's write-back). A strong write reads a majority,
 * checks the conditions, and writes a version that supersedes everything read, answering
 * after a majority stored it. Because every strong operation of a key passes through here
 * one at a time and each ends with its state on a majority, strong operations are
 * linearizable; a write that fails (no majority) may still surface later, which
 * linearizability allows for an operation whose outcome the client never learned.
 *
 * Cost: a hop to the leader, one majority round trip per read, two per write.
 */

import type { Env } from '../platform/env'
import { HostedObject } from '../platform/hosted-object'
import type { KeySpec } from './coordinator'
import { majority, readKey, type WriteRequest, writeKey } from './operations'
import { coordinatorDeps } from './service'

declare global {
  namespace Cloudflare {
    interface Env {
      KV_LEADERS: DurableObjectNamespace<KvLeader>
    }
  }
}

export class KvLeader extends HostedObject<Env> {
  private readonly tails = new Map<string, Promise<unknown>>()

  private serialize<T>(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve()
    const run = previous.then(work, work)
    const tail = run.then(
      () => undefined,
      () => undefined,
    )
    this.tails.set(key, tail)
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key)
    })
    return run
  }

  private deps(tenant: string) {
    return coordinatorDeps(this.env, tenant, (work) => this.ctx.waitUntil(work))
  }

  async read(tenant: string, spec: KeySpec) {
    return this.serialize(spec.key, () =>
      readKey(this.deps(tenant), spec, majority(spec.replicas), Date.now()),
    )
  }

  async write(tenant: string, spec: KeySpec, request: WriteRequest) {
    const quorum = majority(spec.replicas)
    return this.serialize(spec.key, () =>
      writeKey(this.deps(tenant), spec, request, { r: quorum, w: quorum }, Date.now(), true),
    )
  }
}

/**
 * The host's `cloudflare:workers` module: the base classes the Worker imports. The build
 * (apps/host/build.ts) aliases `cloudflare:workers` to this file, so block code keeps its
 * single version. `this.ctx` and `this.env` are what workerd gives a Durable Object.
 */
export class DurableObject<Env = unknown> {
  protected ctx: DurableObjectState
  protected env: Env
  constructor(ctx: DurableObjectState, env: Env) {
    this.ctx = ctx
    this.env = env
  }
}

export class WorkerEntrypoint<Env = unknown> {
  protected ctx: ExecutionContext
  protected env: Env
  constructor(ctx: ExecutionContext, env: Env) {
    this.ctx = ctx
    this.env = env
  }
}

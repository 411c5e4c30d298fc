/** A block's server for a tenant's own hostname that points at one of its resources (DNS hostname routing calls it). */
import type { Env } from './env'

export interface HostTarget {
  kind: string
  serve: (
    request: Request,
    env: Env,
    ctx: ExecutionContext,
    target: { tenant: string; name: string },
  ) => Promise<Response>
}

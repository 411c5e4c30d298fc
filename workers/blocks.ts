/**
 * The building blocks mounted in the Worker. Each block lives in `workers/<block>/` and
 * contributes one entry: its routes (mounted at `path`), and optionally a body limit and
 * a cron hook. `GET /v1` lists them.
 */
import type { Hono } from 'hono'
import type { Env } from './platform/env'

export interface Block {
  name: string
  version: string
  path: string
  description: string
  // biome-ignore lint/suspicious/noExplicitAny: sub-apps have their own typed variables
  routes: Hono<any>
  /** The body limit of the block's routes in bytes, when not the platform default. */
  maxBodyBytes?: number
  /** Called by the Worker's `scheduled()` (Cron Triggers). */
  scheduled?: (env: Env, controller: ScheduledController) => Promise<void>
}

export const BLOCKS: Block[] = []

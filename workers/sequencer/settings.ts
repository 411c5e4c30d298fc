/**
 * The sequencer's bindings and settings, and the names of its objects (the `SEQUENCER`
 * binding is declared with its class in object.ts).
 *
 * `SNOWFLAKE_EPOCH_MS` (optional, Unix ms, default 2024-01-01T00:00:00Z) is timestamp 0 of
 * Snowflake IDs. Fix it before the first ID: a generator refuses to issue under a changed
 * epoch (IDs could repeat), and `decode` reads IDs with the configured one. A malformed or
 * future epoch fails loudly at the first request that needs it.
 */
import type { Env } from '../platform/env'
import { objectStub } from '../platform/tenancy'
import type { GeneratorIdRegistry } from './id-registry'
import { DEFAULT_SNOWFLAKE_EPOCH_MS } from './snowflake'

declare global {
  namespace Cloudflare {
    interface Env {
      /** One generator-ID registry per tenant. */
      SEQUENCER_IDS: DurableObjectNamespace<GeneratorIdRegistry>
      SNOWFLAKE_EPOCH_MS?: string
    }
  }
}

/** A generator's or clock's identity: its tenant and name (never from a request body). */
export interface SequencerRef {
  tenant: string
  name: string
}

/** Numbers leased from the database at a time (more when one request needs more). */
export const RANGE_BLOCK_SIZE = 1_000
/** How far ahead of this clock a seen HLC timestamp may be. */
export const HLC_MAX_DRIFT_MS = 60_000

export const GENERATOR_OBJECT_KIND = 'sequencer'
export const CLOCK_OBJECT_KIND = 'sequencer-clock'
export const REGISTRY_OBJECT_KIND = 'sequencer-ids'
export const REGISTRY_OBJECT_NAME = 'registry'

export const generatorStub = (env: Env, ref: SequencerRef) =>
  objectStub(env.SEQUENCER, ref.tenant, GENERATOR_OBJECT_KIND, ref.name)

export const clockStub = (env: Env, ref: SequencerRef) =>
  objectStub(env.SEQUENCER, ref.tenant, CLOCK_OBJECT_KIND, ref.name)

export const registryStub = (env: Env, tenant: string) =>
  objectStub(env.SEQUENCER_IDS, tenant, REGISTRY_OBJECT_KIND, REGISTRY_OBJECT_NAME)

export function snowflakeEpochMs(env: Env, nowMs = Date.now()): number {
  const setting = env.SNOWFLAKE_EPOCH_MS
  if (setting === undefined || setting === '') return DEFAULT_SNOWFLAKE_EPOCH_MS
  const epochMs = /^[0-9]{1,16}$/.test(setting) ? Number(setting) : Number.NaN
  if (!Number.isSafeInteger(epochMs) || epochMs > nowMs) {
    throw new Error(`Invalid configuration: SNOWFLAKE_EPOCH_MS must be Unix milliseconds in the past`)
  }
  return epochMs
}

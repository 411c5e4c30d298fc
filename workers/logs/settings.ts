/**
 * A tenant's logging settings: the defaults come from configuration (`LOGS_*`), a tenant's
 * own values (`PUT /v1/logs/settings`) replace them field by field.
 */
import * as v from 'valibot'
import { positiveInteger } from '../platform/config'
import type { Env } from '../platform/env'

declare global {
  namespace Cloudflare {
    interface Env {
      LOGS_RETENTION_DAYS?: string
      LOGS_COMPACT_AFTER_HOURS?: string
      LOGS_LINES_PER_SECOND?: string
      LOGS_KIB_PER_SECOND?: string
      LOGS_MAX_LINE_BYTES?: string
      LOGS_SHARDS?: string
      /** `on` (default) or `off`: the platform's own request logs into tenant `platform`. */
      LOGS_REQUEST_LOGS?: string
    }
  }
}

export interface LogSettings {
  retentionDays: number
  compactAfterHours: number
  linesPerSecond: number
  kibPerSecond: number
  maxLineBytes: number
  shards: number
}

const whole = positiveInteger

const DEFAULTS = v.object({
  LOGS_RETENTION_DAYS: whole(30, 1, 3650),
  LOGS_COMPACT_AFTER_HOURS: whole(24, 0, 24 * 365),
  LOGS_LINES_PER_SECOND: whole(50_000, 1, 100_000),
  LOGS_KIB_PER_SECOND: whole(50 * 1024, 1, 100_000),
  LOGS_MAX_LINE_BYTES: whole(256 * 1024, 64, 1024 * 1024),
  LOGS_SHARDS: whole(2, 1, 16),
  LOGS_REQUEST_LOGS: v.optional(v.picklist(['on', 'off']), 'on'),
})

const cache = new WeakMap<object, { settings: LogSettings; requestLogs: boolean }>()

function read(env: Env): { settings: LogSettings; requestLogs: boolean } {
  const cached = cache.get(env)
  if (cached) return cached
  const result = v.safeParse(DEFAULTS, env)
  if (!result.success) {
    throw new Error(
      `Invalid configuration: ${result.issues.map((i) => `${v.getDotPath(i)}: ${i.message}`).join('; ')}`,
    )
  }
  const s = result.output
  const value = {
    settings: {
      retentionDays: s.LOGS_RETENTION_DAYS,
      compactAfterHours: s.LOGS_COMPACT_AFTER_HOURS,
      linesPerSecond: s.LOGS_LINES_PER_SECOND,
      kibPerSecond: s.LOGS_KIB_PER_SECOND,
      maxLineBytes: s.LOGS_MAX_LINE_BYTES,
      shards: s.LOGS_SHARDS,
    },
    requestLogs: s.LOGS_REQUEST_LOGS === 'on',
  }
  cache.set(env, value)
  return value
}

export function defaultSettings(env: Env): LogSettings {
  return read(env).settings
}

/** Whether the platform writes its own request logs into tenant `platform`. */
export function requestLogsEnabled(env: Env): boolean {
  return read(env).requestLogs
}

/** Bursts up to this many seconds' worth of the per-second ingest limits. */
export const BURST_SECONDS = 10

/**
 * The Loki HTTP API's query parameters: times (`start`, `end`, `time`: nanoseconds, seconds
 * with a fraction, or RFC 3339), `since`, `step` (a duration or seconds), `limit`,
 * `direction`, with Loki's defaults (the last hour, 100 lines, backward, ~250 steps).
 */
import { LOGS_LIMITS } from '../../schemas/logs'
import { LogQLError, parseDuration } from './logql/parser'

const NS_PER_MS = 1_000_000n

/** A Loki time parameter → ns since the epoch. Integers of up to 10 digits are seconds, longer ones nanoseconds. */
export function parseLokiTime(text: string): bigint {
  if (/^\d{1,10}$/.test(text)) return BigInt(text) * 1_000_000_000n
  if (/^\d{11,19}$/.test(text)) return BigInt(text)
  if (/^\d+\.\d+$/.test(text)) {
    const [whole = '0', fraction = ''] = text.split('.')
    return BigInt(whole) * 1_000_000_000n + BigInt(fraction.padEnd(9, '0').slice(0, 9))
  }
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) throw new LogQLError(`invalid time "${text.slice(0, 40)}"`)
  const fraction = /\.(\d+)/.exec(text)?.[1] ?? ''
  return BigInt(ms) * NS_PER_MS + BigInt(fraction.padEnd(9, '0').slice(3, 9) || '0')
}

function durationMs(text: string): number {
  return /^\d+(\.\d+)?$/.test(text) ? Number(text) * 1000 : parseDuration(text)
}

export interface LokiQueryParams {
  query: string
  startNs: bigint
  endNs: bigint
  limit: number
  descending: boolean
  stepMs: number
}

export function readQueryParams(params: URLSearchParams, nowMs: number, instant: boolean): LokiQueryParams {
  const query = params.get('query')
  if (!query) throw new LogQLError('the query parameter is required')
  const nowNs = BigInt(nowMs) * NS_PER_MS
  const time = params.get('time')
  const end = params.get('end')
  const endNs = instant ? (time ? parseLokiTime(time) : nowNs) : end ? parseLokiTime(end) : nowNs
  const since = params.get('since')
  const start = params.get('start')
  const startNs = start
    ? parseLokiTime(start)
    : endNs - BigInt(Math.round(since ? durationMs(since) : 3_600_000)) * NS_PER_MS
  if (startNs > endNs) throw new LogQLError('the end time must not be before the start time')
  const limitText = params.get('limit') ?? '100'
  const limit = Number(limitText)
  if (!/^\d+$/.test(limitText) || limit < 1 || limit > LOGS_LIMITS.maxQueryLimit) {
    throw new LogQLError(`limit must be a whole number from 1 to ${LOGS_LIMITS.maxQueryLimit}`)
  }
  const direction = params.get('direction') ?? 'backward'
  if (direction !== 'backward' && direction !== 'forward')
    throw new LogQLError('direction must be forward or backward')
  const rangeMs = Number((endNs - startNs) / NS_PER_MS)
  const step = params.get('step')
  const stepMs = step ? durationMs(step) : Math.max(1000, Math.ceil(rangeMs / 250 / 1000) * 1000)
  if (!(stepMs > 0)) throw new LogQLError('step must be positive')
  return { query, startNs, endNs, limit, descending: direction === 'backward', stepMs: Math.round(stepMs) }
}

/**
 * The HTTP health check of a failover record: `GET <scheme>://<address>:<port><path>`
 * with a 5 s timeout; healthy when the status is from 200 to `expectStatusBelow`.
 * Only address records (A, AAAA) can be checked; anything else counts as healthy.
 */
import type { HealthCheck } from './routing-policy'
import { TYPE } from './wire/types'

export const HEALTH_TIMEOUT_MS = 5000

export function healthCheckUrl(check: HealthCheck, type: number, content: string): string | undefined {
  if (type === TYPE.A) return `${check.scheme}://${content}:${check.port}${check.path}`
  if (type === TYPE.AAAA) return `${check.scheme}://[${content}]:${check.port}${check.path}`
  return undefined
}

export async function runHealthCheck(check: HealthCheck, type: number, content: string): Promise<boolean> {
  const url = healthCheckUrl(check, type, content)
  if (url === undefined) return true
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(HEALTH_TIMEOUT_MS), redirect: 'manual' })
    await response.body?.cancel()
    return response.status >= 200 && response.status <= check.expectStatusBelow
  } catch {
    return false
  }
}

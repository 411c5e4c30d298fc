/**
 * One active health check: the monitor's request to an origin, judged by status class or
 * code list and an optional body substring, within the monitor's timeout. Runs in the pool
 * object's alarm; never throws (a failure is a result with its reason).
 */
import type { MonitorConfig } from '../../schemas/lb'
import { targetUrl } from '../platform/proxy'
import { codeMatches } from './health'

export interface CheckResult {
  passed: boolean
  detail: string
}

export async function runMonitor(originUrl: string, monitor: MonitorConfig): Promise<CheckResult> {
  try {
    const response = await fetch(targetUrl(originUrl, monitor.path, ''), {
      method: monitor.method,
      headers: { 'user-agent': 'edgeblocks-lb-monitor/1' },
      signal: AbortSignal.timeout(monitor.timeoutSeconds * 1000),
    })
    if (!codeMatches(response.status, monitor.expectedCodes)) {
      await response.body?.cancel()
      return {
        passed: false,
        detail: `monitor: status ${response.status}, expected ${monitor.expectedCodes}`,
      }
    }
    if (monitor.expectedBody !== undefined && monitor.method === 'GET') {
      const text = await response.text()
      if (!text.includes(monitor.expectedBody))
        return { passed: false, detail: 'monitor: expected body text missing' }
    } else {
      await response.body?.cancel()
    }
    return { passed: true, detail: `monitor: status ${response.status}` }
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')
    return { passed: false, detail: timedOut ? 'monitor: timed out' : 'monitor: connection failed' }
  }
}

/**
 * How the rules object's state reads from outside: Prometheus's `/api/v1/rules` and
 * `/api/v1/alerts` shapes, Alertmanager's silence shape, and receivers without secrets.
 */
import type { SilenceMatcher } from '../../../schemas/monitoring-rules'
import type { Alert, Silence } from './alerts'
import type { Receiver, RulesStore } from './store'
import { goFloat } from './template'

const ZERO_TIME = '0001-01-01T00:00:00Z'
const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? ZERO_TIME : new Date(ms).toISOString()

/** Prometheus's API formats alert values as Go's `%e` with shortest digits (`4.5e+00`). */
export function alertValue(v: number): string {
  if (!Number.isFinite(v)) return goFloat(v)
  const [mantissa, exp] = v.toExponential().split('e') as [string, string]
  const e = Number(exp)
  return `${mantissa}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`
}

function alertView(a: Alert) {
  return {
    labels: a.labels,
    annotations: a.annotations,
    state: a.state,
    activeAt: iso(a.activeAt),
    ...(a.keepFiringSince !== null ? { keepFiringSince: iso(a.keepFiringSince) } : {}),
    value: alertValue(a.value),
  }
}

export function prometheusGroups(store: RulesStore, type: string | undefined) {
  return store.groups().map((row) => ({
    name: row.name,
    file: row.file,
    interval: row.group.intervalMs / 1000,
    limit: row.group.limit,
    rules: row.group.rules
      .map((rule, idx) => {
        const h = store.health(row.file, row.name, idx)
        const common = {
          health: h?.health ?? 'unknown',
          lastError: h?.lastError ?? '',
          evaluationTime: (h?.durationMs ?? 0) / 1000,
          lastEvaluation: iso(h?.lastEvalAt),
        }
        if (rule.kind === 'recording') {
          return { name: rule.record, query: rule.expr, labels: rule.labels, ...common, type: 'recording' }
        }
        const alerts = store.alerts(row.file, row.name, idx).filter((a) => a.state !== 'inactive')
        const state = alerts.some((a) => a.state === 'firing')
          ? 'firing'
          : alerts.some((a) => a.state === 'pending')
            ? 'pending'
            : 'inactive'
        return {
          state,
          name: rule.alert,
          query: rule.expr,
          duration: rule.forMs / 1000,
          keepFiringFor: rule.keepFiringForMs / 1000,
          labels: rule.labels,
          annotations: rule.annotations,
          alerts: alerts.map(alertView),
          ...common,
          type: 'alerting',
        }
      })
      .filter((r) => type === undefined || (type === 'alert') === (r.type === 'alerting')),
    evaluationTime: row.lastDurationMs / 1000,
    lastEvaluation: iso(row.lastEvalAt),
  }))
}

export function prometheusAlerts(store: RulesStore) {
  const out: ReturnType<typeof alertView>[] = []
  for (const row of store.groups()) {
    row.group.rules.forEach((rule, idx) => {
      if (rule.kind !== 'alerting') return
      for (const a of store.alerts(row.file, row.name, idx))
        if (a.state !== 'inactive') out.push(alertView(a))
    })
  }
  return out
}

export function receiverView(r: Receiver, stats: { pending: number; deadLettered: number }) {
  return {
    name: r.name,
    url: r.url,
    matchers: r.matchers,
    repeatIntervalSeconds: r.repeatMs / 1000,
    timeoutSeconds: r.timeoutMs / 1000,
    pending: stats.pending,
    deadLettered: stats.deadLettered,
    lastError: r.lastError,
  }
}

export function silenceView(s: Silence & { createdBy: string; comment: string }, now: number) {
  const state = now < s.startsAt ? 'pending' : now < s.endsAt ? 'active' : 'expired'
  return {
    id: s.id,
    matchers: s.matchers as SilenceMatcher[],
    startsAt: iso(s.startsAt),
    endsAt: iso(s.endsAt),
    createdBy: s.createdBy,
    comment: s.comment,
    status: { state: state as 'pending' | 'active' | 'expired' },
  }
}

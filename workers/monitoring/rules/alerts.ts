/**
 * Alert states and notifications, as Prometheus's rule manager and Alertmanager's webhook
 * receiver define them.
 *
 * `stepAlerts`: one evaluation of an alerting rule. Each output sample becomes an alert
 * identified by its labels (the sample's, minus `__name__`, plus the rule's templated
 * labels and `alertname`). A new alert is pending from `activeAt`; it fires once it has
 * been active for `for` (at once when `for` is 0). An alert missing from the output is
 * dropped if pending; if firing it keeps firing for `keep_firing_for`, then is resolved.
 * Resolved alerts are kept for 15 minutes so their resolution can be notified.
 *
 * `dueNotifications`: which alerts to notify now: a firing alert when it has not been
 * notified yet or its last notification is older than the repeat interval; a resolved alert
 * once, if its firing was notified. A silenced alert is not notified (and not marked, so it
 * is notified when the silence ends).
 *
 * Pure: time is an argument. Cost: O(alerts + samples) per evaluation.
 */
import { RULES_LIMITS, type SilenceMatcher } from '../../../schemas/monitoring-rules'
import { anchored } from '../promql/ast'
import type { Sample } from '../promql/sample'
import { type Labels, seriesKey } from '../series'
import type { AlertingRule } from './rule-file'
import { compileTemplate, expandTemplate } from './template'

export type AlertState = 'pending' | 'firing' | 'inactive'

export interface Alert {
  /** The canonical key of the alert's labels. */
  key: string
  labels: Labels
  annotations: Labels
  state: AlertState
  activeAt: number
  firedAt: number | null
  resolvedAt: number | null
  keepFiringSince: number | null
  value: number
  /** When its firing was last notified (null: never). */
  notifiedAt: number | null
  resolvedNotified: boolean
}

function expandAll(templates: Labels, labels: Labels, value: number): Labels {
  const out: Labels = {}
  for (const [k, text] of Object.entries(templates))
    out[k] = expandTemplate(compileTemplate(text), labels, value)
  return out
}

export function stepAlerts(rule: AlertingRule, prior: Alert[], samples: Sample[], ts: number): Alert[] {
  const byKey = new Map(prior.map((a) => [a.key, { ...a }]))
  const seen = new Set<string>()
  for (const s of samples) {
    const base: Labels = { ...s.labels }
    delete base.__name__
    const labels: Labels = { ...base, ...expandAll(rule.labels, base, s.value), alertname: rule.alert }
    for (const [k, v] of Object.entries(labels)) if (v === '') delete labels[k]
    const annotations = expandAll(rule.annotations, base, s.value)
    const key = seriesKey(labels)
    seen.add(key)
    const existing = byKey.get(key)
    if (existing && existing.state !== 'inactive') {
      existing.value = s.value
      existing.annotations = annotations
      existing.keepFiringSince = null
      continue
    }
    byKey.set(key, {
      key,
      labels,
      annotations,
      state: 'pending',
      activeAt: ts,
      firedAt: null,
      resolvedAt: null,
      keepFiringSince: null,
      value: s.value,
      notifiedAt: null,
      resolvedNotified: false,
    })
  }
  const out: Alert[] = []
  for (const alert of byKey.values()) {
    if (!seen.has(alert.key)) {
      if (alert.state === 'pending') continue
      if (alert.state === 'firing') {
        alert.keepFiringSince ??= ts
        if (rule.keepFiringForMs === 0 || ts - alert.keepFiringSince >= rule.keepFiringForMs) {
          alert.state = 'inactive'
          alert.resolvedAt = ts
        }
      }
      if (alert.state === 'inactive' && ts - (alert.resolvedAt ?? ts) > RULES_LIMITS.resolvedRetentionMs)
        continue
    }
    if (alert.state === 'pending' && ts - alert.activeAt >= rule.forMs) {
      alert.state = 'firing'
      alert.firedAt = ts
    }
    out.push(alert)
  }
  return out
}

export interface Silence {
  id: string
  matchers: SilenceMatcher[]
  startsAt: number
  endsAt: number
}

export function matchesAll(matchers: SilenceMatcher[], labels: Labels): boolean {
  return matchers.every((m) => {
    const value = labels[m.name] ?? ''
    const hit = m.isRegex ? anchored(m.value).test(value) : value === m.value
    return m.isEqual ? hit : !hit
  })
}

export function isSilenced(labels: Labels, silences: Silence[], now: number): boolean {
  return silences.some((s) => s.startsAt <= now && now < s.endsAt && matchesAll(s.matchers, labels))
}

/** The alerts of one rule to notify at `now`; marks them in the returned copies. */
export function dueNotifications(
  alerts: Alert[],
  silences: Silence[],
  now: number,
  repeatMs: number,
): { send: Alert[]; alerts: Alert[] } {
  const send: Alert[] = []
  const updated = alerts.map((a) => {
    const next = { ...a }
    if (isSilenced(a.labels, silences, now)) return next
    if (a.state === 'firing' && (a.notifiedAt === null || now - a.notifiedAt >= repeatMs)) {
      next.notifiedAt = now
      send.push(next)
    } else if (a.state === 'inactive' && a.notifiedAt !== null && !a.resolvedNotified) {
      next.resolvedNotified = true
      send.push(next)
    }
    return next
  })
  return { send, alerts: updated }
}

/** Alertmanager's fingerprint: FNV-1a 64 over sorted names and values, 0xff separated. */
export function fingerprint(labels: Labels): string {
  const bytes: number[] = []
  const enc = new TextEncoder()
  for (const name of Object.keys(labels).sort()) {
    bytes.push(...enc.encode(name), 0xff, ...enc.encode(labels[name] as string), 0xff)
  }
  let hash = 0xcbf29ce484222325n
  for (const b of bytes) hash = ((hash ^ BigInt(b)) * 0x100000001b3n) & 0xffffffffffffffffn
  return hash.toString(16).padStart(16, '0')
}

const ZERO_TIME = '0001-01-01T00:00:00Z'

function common(maps: Labels[]): Labels {
  const [first, ...rest] = maps
  const out: Labels = {}
  for (const [k, v] of Object.entries(first ?? {})) if (rest.every((m) => m[k] === v)) out[k] = v
  return out
}

/** The Alertmanager webhook payload (version 4) for one group of alerts of one rule. */
export function webhookPayload(receiver: string, alertname: string, alerts: Alert[], externalURL: string) {
  const items = alerts.map((a) => ({
    status: a.state === 'firing' ? 'firing' : 'resolved',
    labels: a.labels,
    annotations: a.annotations,
    startsAt: new Date(a.activeAt).toISOString(),
    endsAt: a.resolvedAt === null || a.state === 'firing' ? ZERO_TIME : new Date(a.resolvedAt).toISOString(),
    generatorURL: externalURL,
    fingerprint: fingerprint(a.labels),
  }))
  const groupLabels = { alertname }
  return {
    version: '4',
    groupKey: `{}:{alertname=${JSON.stringify(alertname)}}`,
    truncatedAlerts: 0,
    status: items.some((i) => i.status === 'firing') ? 'firing' : 'resolved',
    receiver,
    groupLabels,
    commonLabels: common(alerts.map((a) => a.labels)),
    commonAnnotations: common(alerts.map((a) => a.annotations)),
    externalURL,
    alerts: items,
  }
}

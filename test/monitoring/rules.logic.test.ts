import { describe, expect, it } from 'vitest'
import {
  type Alert,
  dueNotifications,
  fingerprint,
  stepAlerts,
  webhookPayload,
} from '../../workers/monitoring/rules/alerts'
import { type AlertingRule, parseRuleFile, RuleFileError } from '../../workers/monitoring/rules/rule-file'
import { compileTemplate, expandTemplate, goFloat, humanize } from '../../workers/monitoring/rules/template'
import { alertValue } from '../../workers/monitoring/rules/views'

const problems = (text: string) => {
  try {
    parseRuleFile(text)
  } catch (error) {
    if (error instanceof RuleFileError) return error.problems.map((p) => p.path)
    throw error
  }
  return []
}

describe('rule files', () => {
  it('parses recording and alerting rules with durations, labels and annotations', () => {
    const groups = parseRuleFile(`
groups:
  - name: api
    interval: 30s
    rules:
      - record: job:requests:rate1m
        expr: sum by (job) (rate(http_requests_total[1m]))
        labels: { team: web }
      - alert: HighErrors
        expr: job:requests:rate1m > 10
        for: 5m
        keep_firing_for: 1m
        labels: { severity: page }
        annotations:
          summary: "{{ $labels.job }} at {{ $value | humanize }}"
`)
    expect(groups).toHaveLength(1)
    expect(groups[0]?.intervalMs).toBe(30_000)
    expect(groups[0]?.rules[0]).toMatchObject({
      kind: 'recording',
      record: 'job:requests:rate1m',
      labels: { team: 'web' },
    })
    expect(groups[0]?.rules[1]).toMatchObject({ kind: 'alerting', forMs: 300_000, keepFiringForMs: 60_000 })
  })

  it('refuses bad YAML, unknown fields, bad PromQL, bad durations, bad names and templates, with paths', () => {
    expect(problems('groups: [')).toEqual([''])
    expect(problems('nope: 1')).toEqual([''])
    expect(
      problems(`
groups:
  - name: g
    interval: 5 minutes
    extra: 1
    rules:
      - record: "bad name"
        expr: sum(
      - alert: A
        expr: up == 0
        for: soon
        annotations: { x: "{{ .Foo }}" }
      - expr: up
  - name: g
    rules: []
`),
    ).toEqual([
      'groups/0/extra',
      'groups/0/interval',
      'groups/0/rules/0/expr',
      'groups/0/rules/0/record',
      'groups/0/rules/1/for',
      'groups/0/rules/1/annotations/x',
      'groups/0/rules/2',
      'groups/1/name',
    ])
  })
})

describe('templates', () => {
  it('expands $labels, $value, humanize and printf as Prometheus does', () => {
    const t = compileTemplate(
      '{{ $labels.instance }} is {{ $value }} ({{ humanize $value }}, {{ printf "%.2f" $value }})',
    )
    expect(expandTemplate(t, { instance: 'a:9090' }, 1234567)).toBe(
      'a:9090 is 1.234567e+06 (1.235M, 1234567.00)',
    )
    expect(expandTemplate(compileTemplate('{{- .Labels.job -}} / {{ .Value }}'), { job: 'api' }, 0.5)).toBe(
      'api/ 0.5',
    )
    expect(expandTemplate(compileTemplate('{{ $labels.missing }}!'), {}, 1)).toBe('!')
    expect(goFloat(123456)).toBe('123456')
    expect(goFloat(0.00001)).toBe('1e-05')
    expect(goFloat(Number.NaN)).toBe('NaN')
    expect(humanize(0.0012)).toBe('1.2m')
    expect(humanize(1000)).toBe('1k')
    expect(alertValue(4.5)).toBe('4.5e+00')
    expect(() => compileTemplate('{{ range .Alerts }}')).toThrow()
    expect(() => compileTemplate('{{ $value')).toThrow()
  })
})

describe('alert states', () => {
  const rule: AlertingRule = {
    kind: 'alerting',
    alert: 'QueueBacklog',
    expr: 'queue_depth > 50',
    forMs: 120_000,
    keepFiringForMs: 0,
    labels: { severity: 'page', queue: '{{ $labels.queue }}-x' },
    annotations: { summary: 'depth {{ $value }}' },
  }
  const sample = (value: number) => ({ labels: { __name__: 'queue_depth', queue: 'a' }, value })

  it('goes pending, then firing after `for`, then resolved; notifies firing once and resolved once', () => {
    let alerts: Alert[] = stepAlerts(rule, [], [sample(80)], 0)
    expect(alerts.map((a) => a.state)).toEqual(['pending'])
    expect(alerts[0]?.labels).toEqual({ alertname: 'QueueBacklog', queue: 'a-x', severity: 'page' })
    expect(alerts[0]?.annotations).toEqual({ summary: 'depth 80' })
    let due = dueNotifications(alerts, [], 0, 3_600_000)
    expect(due.send).toEqual([])
    alerts = stepAlerts(rule, due.alerts, [sample(90)], 60_000)
    expect(alerts[0]?.state).toBe('pending')
    alerts = stepAlerts(rule, alerts, [sample(95)], 120_000)
    expect(alerts[0]).toMatchObject({ state: 'firing', activeAt: 0, firedAt: 120_000, value: 95 })
    due = dueNotifications(alerts, [], 120_000, 3_600_000)
    expect(due.send).toHaveLength(1)
    expect(dueNotifications(due.alerts, [], 180_000, 3_600_000).send).toEqual([])
    alerts = stepAlerts(rule, due.alerts, [], 240_000)
    expect(alerts[0]).toMatchObject({ state: 'inactive', resolvedAt: 240_000 })
    due = dueNotifications(alerts, [], 240_000, 3_600_000)
    expect(due.send.map((a) => a.state)).toEqual(['inactive'])
    expect(dueNotifications(due.alerts, [], 300_000, 3_600_000).send).toEqual([])
    // Kept 15 minutes after resolution, then dropped.
    expect(stepAlerts(rule, due.alerts, [], 240_000 + 15 * 60_000)).toHaveLength(1)
    expect(stepAlerts(rule, due.alerts, [], 240_000 + 15 * 60_000 + 1)).toHaveLength(0)
  })

  it('drops a pending alert that disappears, keeps firing for keep_firing_for, fires at once without for', () => {
    expect(stepAlerts(rule, stepAlerts(rule, [], [sample(80)], 0), [], 60_000)).toEqual([])
    const instant = { ...rule, forMs: 0, keepFiringForMs: 120_000 }
    let alerts = stepAlerts(instant, [], [sample(80)], 0)
    expect(alerts[0]?.state).toBe('firing')
    alerts = stepAlerts(instant, alerts, [], 60_000)
    expect(alerts[0]).toMatchObject({ state: 'firing', keepFiringSince: 60_000 })
    alerts = stepAlerts(instant, alerts, [], 180_000)
    expect(alerts[0]?.state).toBe('inactive')
  })

  it('silences hold back notifications until they end', () => {
    const firing = stepAlerts({ ...rule, forMs: 0 }, [], [sample(80)], 0)
    const silence = {
      id: 's',
      matchers: [{ name: 'queue', value: 'a.*', isRegex: true, isEqual: true }],
      startsAt: 0,
      endsAt: 60_000,
    }
    const held = dueNotifications(firing, [silence], 30_000, 3_600_000)
    expect(held.send).toEqual([])
    expect(dueNotifications(held.alerts, [silence], 60_000, 3_600_000).send).toHaveLength(1)
  })

  it('builds Alertmanager v4 payloads with Alertmanager fingerprints', () => {
    // Alertmanager's fingerprint of {alertname="test"} (FNV-1a 64, as in prometheus/common).
    expect(fingerprint({})).toBe('cbf29ce484222325')
    const alerts = stepAlerts({ ...rule, forMs: 0 }, [], [sample(80)], Date.UTC(2026, 0, 1))
    const payload = webhookPayload('ops', 'QueueBacklog', alerts, '')
    expect(payload).toMatchObject({
      version: '4',
      status: 'firing',
      receiver: 'ops',
      groupLabels: { alertname: 'QueueBacklog' },
      commonLabels: { alertname: 'QueueBacklog', queue: 'a-x', severity: 'page' },
      alerts: [{ status: 'firing', startsAt: '2026-01-01T00:00:00.000Z', endsAt: '0001-01-01T00:00:00Z' }],
    })
    expect(payload.alerts[0]?.fingerprint).toMatch(/^[0-9a-f]{16}$/)
  })
})

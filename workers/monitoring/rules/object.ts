/**
 * `MonitoringRules`: one per tenant (`<tenant>:monitoring-rules:rules`). It keeps the
 * tenant's rule files, receivers and silences, evaluates each rule group on its interval
 * from its one alarm (the earliest of every group's next evaluation and every pending
 * notification), and delivers notifications at least once.
 *
 * An evaluation runs the group's rules in order at one timestamp: a recording rule's output
 * is written to the tenant's series (so later rules see it), an alerting rule's output moves
 * its alerts through pending/firing/resolved (alerts.ts). Each rule's outcome is committed
 * in one transaction, and dropped if the group was replaced while it was being evaluated.
 * Notifications go through an outbox: signed per Standard Webhooks at sending, retried with
 * full-jitter backoff, dead-lettered after the last attempt.
 */
import { type ReceiverInput, RULES_LIMITS, type SilenceInput } from '../../../schemas/monitoring-rules'
import { backoffDelayMs, deliver, newWebhookSecret, signWebhook } from '../../platform/delivery'
import type { Env } from '../../platform/env'
import { AppError } from '../../platform/errors'
import { HostedObject } from '../../platform/hosted-object'
import { objectStub } from '../../platform/tenancy'
import { writeSeries } from '../ingest'
import { anchored } from '../promql/ast'
import { parsePromQL } from '../promql/parser'
import type { Sample } from '../promql/sample'
import { evaluateAt } from '../query'
import { type Labels, type Series, seriesKey } from '../series'
import { type Alert, dueNotifications, matchesAll, stepAlerts, webhookPayload } from './alerts'
import { parseRuleFile, type Rule, RuleFileError } from './rule-file'
import { type GroupRow, RulesStore } from './store'
import { prometheusAlerts, prometheusGroups, receiverView, silenceView } from './views'

declare global {
  namespace Cloudflare {
    interface Env {
      MONITORING_RULES: DurableObjectNamespace<MonitoringRules>
    }
  }
}

export function rulesObject(env: Env, tenant: string): DurableObjectStub<MonitoringRules> {
  return objectStub(env.MONITORING_RULES, tenant, 'monitoring-rules', 'rules')
}

const DELIVERIES_PER_ALARM = 50
const DEFAULT_REPEAT_MS = 4 * 3_600_000

export class MonitoringRules extends HostedObject<Env> {
  private readonly store: RulesStore
  /** The evaluation clock, backoff randomness and outbound fetch; tests replace them. */
  clock: () => number = () => Date.now()
  random: () => number = Math.random
  fetcher: (request: Request) => Promise<Response> = (request) => fetch(request)

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new RulesStore(ctx.storage.sql)
    void ctx.blockConcurrencyWhile(async () => this.store.migrate())
  }

  private remember(tenant: string): void {
    if (this.store.meta('tenant') !== tenant) this.store.setMeta('tenant', tenant)
  }

  private async arm(): Promise<void> {
    const next = this.store.nextDue()
    if (next === null) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(next)
  }

  // ---- rule files

  async putFile(tenant: string, name: string, yaml: string) {
    let groups: ReturnType<typeof parseRuleFile>
    try {
      groups = parseRuleFile(yaml)
    } catch (error) {
      if (!(error instanceof RuleFileError)) throw error
      throw new AppError('validation_failed', 'The rule file is invalid.', {
        errors: error.problems.map((p) => ({
          path: `body/${p.path}`.replace(/\/$/, ''),
          message: p.message,
        })),
      })
    }
    const now = this.clock()
    this.ctx.storage.transactionSync(() => {
      const exists = this.store.file(name) !== undefined
      if (!exists && this.store.fileNames().length >= RULES_LIMITS.maxFiles)
        throw new AppError('conflict', `At most ${RULES_LIMITS.maxFiles} rule files per tenant.`)
      this.remember(tenant)
      this.store.putFile(name, yaml, groups, now)
    })
    await this.arm()
    return this.fileView(name)
  }

  async getFile(name: string): Promise<{ view: ReturnType<MonitoringRules['fileView']>; yaml: string }> {
    const file = this.store.file(name)
    if (!file) throw new AppError('not_found', `No rule file named ${name}.`)
    return { view: this.fileView(name), yaml: file.yaml }
  }

  async listFiles() {
    return this.store.fileNames().map((f) => this.fileView(f.name))
  }

  async deleteFile(name: string): Promise<void> {
    const existed = this.ctx.storage.transactionSync(() => this.store.deleteFile(name))
    if (!existed) throw new AppError('not_found', `No rule file named ${name}.`)
    await this.arm()
  }

  private fileView(name: string) {
    return {
      name,
      groups: this.store.groups(name).map((g) => ({
        name: g.name,
        intervalSeconds: g.group.intervalMs / 1000,
        rules: g.group.rules.length,
      })),
      updatedAt: this.store.file(name)?.updatedAt ?? 0,
    }
  }

  // ---- receivers

  async putReceiver(tenant: string, name: string, input: ReceiverInput) {
    const existing = this.store.receivers().find((r) => r.name === name)
    if (!existing && this.store.receivers().length >= RULES_LIMITS.maxReceivers)
      throw new AppError('conflict', `At most ${RULES_LIMITS.maxReceivers} receivers per tenant.`)
    const secret = input.secret ?? existing?.secret ?? newWebhookSecret()
    this.ctx.storage.transactionSync(() => {
      this.remember(tenant)
      this.store.putReceiver(name, input, secret)
    })
    const view = await this.getReceiver(name)
    return { ...view, ...(existing && input.secret === undefined ? {} : { secret }) }
  }

  async getReceiver(name: string) {
    const r = this.store.receivers().find((x) => x.name === name)
    if (!r) throw new AppError('not_found', `No receiver named ${name}.`)
    return receiverView(r, this.store.receiverStats(name))
  }

  async listReceivers() {
    return this.store.receivers().map((r) => receiverView(r, this.store.receiverStats(r.name)))
  }

  async deleteReceiver(name: string): Promise<void> {
    if (!this.ctx.storage.transactionSync(() => this.store.deleteReceiver(name)))
      throw new AppError('not_found', `No receiver named ${name}.`)
    await this.arm()
  }

  async deadLetters(name: string) {
    await this.getReceiver(name)
    return this.store.deadLetters(name).map((d) => ({
      id: d.id,
      webhookId: d.webhookId,
      attempts: d.attempts,
      lastError: d.lastError,
      failedAt: d.failedAt,
      payload: JSON.parse(d.body) as unknown,
    }))
  }

  // ---- silences

  async addSilence(tenant: string, input: SilenceInput) {
    for (const m of input.matchers) {
      if (!m.isRegex) continue
      try {
        anchored(m.value)
      } catch {
        throw new AppError('validation_failed', 'The silence is invalid.', {
          errors: [
            { path: 'body/matchers', message: `invalid regular expression ${JSON.stringify(m.value)}` },
          ],
        })
      }
    }
    const now = this.clock()
    const silence = {
      id: crypto.randomUUID(),
      matchers: input.matchers,
      startsAt: input.startsAt ? Math.max(Date.parse(input.startsAt), now) : now,
      endsAt: Date.parse(input.endsAt),
      createdBy: input.createdBy,
      comment: input.comment,
    }
    if (silence.endsAt <= now) throw new AppError('bad_request', 'endsAt must be in the future.')
    this.ctx.storage.transactionSync(() => {
      if (this.store.silenceCount() >= RULES_LIMITS.maxSilences)
        throw new AppError('conflict', `At most ${RULES_LIMITS.maxSilences} silences per tenant.`)
      this.remember(tenant)
      this.store.addSilence(silence)
    })
    return silenceView(silence, now)
  }

  async listSilences() {
    const now = this.clock()
    return this.store.silences().map((s) => silenceView(s, now))
  }

  async expireSilence(id: string): Promise<void> {
    const now = this.clock()
    if (!this.ctx.storage.transactionSync(() => this.store.expireSilence(id, now)))
      throw new AppError('not_found', `No silence with id ${id}.`)
  }

  /**
   * A one-off firing alert from elsewhere in the block (client-side error issues and spikes),
   * notified like a rule's: to each matching receiver, through the outbox, unless silenced.
   */
  async notify(tenant: string, labels: Labels, annotations: Labels, at: number): Promise<number> {
    const alert: Alert = {
      ...{ key: seriesKey(labels), labels, annotations, state: 'firing', activeAt: at, firedAt: at },
      ...{ resolvedAt: null, keepFiringSince: null, value: 1, notifiedAt: at, resolvedNotified: false },
    }
    if (
      this.store.silences().some((s) => s.startsAt <= at && s.endsAt > at && matchesAll(s.matchers, labels))
    )
      return 0
    const receivers = this.store.receivers().filter((r) => matchesAll(r.matchers, labels))
    this.ctx.storage.transactionSync(() => {
      this.remember(tenant)
      for (const r of receivers) {
        const body = JSON.stringify(webhookPayload(r.name, labels.alertname ?? '', [alert], ''))
        this.store.enqueue(r.name, `msg_${crypto.randomUUID()}`, body, this.clock())
      }
    })
    await this.arm()
    return receivers.length
  }

  // ---- Prometheus API views

  async rules(type: string | undefined) {
    return { groups: prometheusGroups(this.store, type) }
  }

  async activeAlerts() {
    return { alerts: prometheusAlerts(this.store) }
  }

  // ---- evaluation and delivery

  override async alarm(): Promise<void> {
    const now = this.clock()
    const tenant = this.store.meta('tenant')
    if (tenant !== undefined) {
      for (const row of this.store.groups()) if (row.nextAt <= now) await this.evaluateGroup(tenant, row, now)
    }
    await this.deliverDue()
    await this.arm()
  }

  private async evaluateGroup(tenant: string, row: GroupRow, ts: number): Promise<void> {
    const spec = JSON.stringify(row.group)
    const started = Date.now()
    for (const [idx, rule] of row.group.rules.entries()) {
      const t0 = Date.now()
      let samples: Sample[] = []
      let error = ''
      try {
        samples = await this.evaluateRule(tenant, rule, row.group.limit, ts)
      } catch (e) {
        error = e instanceof Error ? e.message : String(e)
      }
      const health = {
        health: error ? ('err' as const) : ('ok' as const),
        lastError: error,
        lastEvalAt: ts,
        durationMs: Date.now() - t0,
      }
      this.ctx.storage.transactionSync(() => {
        const current = this.store.group(row.file, row.name)
        if (!current || JSON.stringify(current.group) !== spec) return
        this.store.setHealth(row.file, row.name, idx, health)
        if (rule.kind === 'alerting' && !error) this.advanceAlerts(row, idx, rule, samples, ts)
      })
    }
    const next = (Math.floor(ts / row.group.intervalMs) + 1) * row.group.intervalMs
    this.ctx.storage.transactionSync(() => {
      const current = this.store.group(row.file, row.name)
      if (current && JSON.stringify(current.group) === spec)
        this.store.finishGroup(row.file, row.name, ts, Date.now() - started, next)
    })
  }

  /** Evaluates one rule; a recording rule's output is written before this returns. */
  private async evaluateRule(tenant: string, rule: Rule, limit: number, ts: number): Promise<Sample[]> {
    const value = await evaluateAt(this.env, tenant, parsePromQL(rule.expr), ts)
    if (value.type === 'string' || value.type === 'matrix')
      throw new Error(`rule result is not a vector or scalar: ${value.type}`)
    const samples = value.type === 'scalar' ? [{ labels: {}, value: value.value }] : value.samples
    if (limit > 0 && samples.length > limit)
      throw new Error(
        `exceeded limit of ${limit} with ${samples.length} ${rule.kind === 'alerting' ? 'alerts' : 'series'}`,
      )
    if (rule.kind === 'recording') {
      const series: Series[] = []
      const keys = new Set<string>()
      for (const s of samples) {
        const labels: Labels = { ...s.labels, ...rule.labels, __name__: rule.record }
        const key = seriesKey(labels)
        if (keys.has(key))
          throw new Error('vector contains metrics with the same labelset after applying rule labels')
        keys.add(key)
        series.push({ labels, times: [ts], values: [s.value] })
      }
      if (series.length > 0) await writeSeries(this.env, tenant, series)
    }
    return samples
  }

  private advanceAlerts(
    row: GroupRow,
    idx: number,
    rule: Rule & { kind: 'alerting' },
    samples: Sample[],
    ts: number,
  ) {
    const stepped = stepAlerts(rule, this.store.alerts(row.file, row.name, idx), samples, ts)
    const receivers = this.store.receivers()
    const repeatMs = receivers.length > 0 ? Math.min(...receivers.map((r) => r.repeatMs)) : DEFAULT_REPEAT_MS
    const active = this.store.silences().filter((s) => s.endsAt > ts)
    const { send, alerts } = dueNotifications(stepped, active, ts, repeatMs)
    this.store.setAlerts(row.file, row.name, idx, alerts)
    for (const receiver of receivers) {
      const mine = send.filter((a) => matchesAll(receiver.matchers, a.labels))
      if (mine.length === 0) continue
      const body = JSON.stringify(webhookPayload(receiver.name, rule.alert, mine, ''))
      this.store.enqueue(receiver.name, `msg_${crypto.randomUUID()}`, body, ts)
    }
  }

  private async deliverDue(): Promise<void> {
    const now = this.clock()
    const receivers = new Map(this.store.receivers().map((r) => [r.name, r]))
    for (const row of this.store.due(now, DELIVERIES_PER_ALARM)) {
      const receiver = receivers.get(row.receiver)
      if (!receiver) continue
      // The signature's timestamp is the wall clock at sending, which receivers check.
      const headers = await signWebhook(
        receiver.secret,
        row.webhookId,
        Math.floor(Date.now() / 1000),
        row.body,
      )
      const outcome = await deliver(
        {
          url: receiver.url,
          headers: { 'content-type': 'application/json', ...headers },
          body: row.body,
          timeoutMs: receiver.timeoutMs,
        },
        this.fetcher,
      )
      this.ctx.storage.transactionSync(() => {
        if (outcome.ok) return this.store.delivered(row.id, row.receiver)
        const attempt = row.attempts + 1
        const retryAt =
          attempt >= RULES_LIMITS.maxAttempts ? null : now + backoffDelayMs(attempt, this.random())
        this.store.failed(row, outcome.error ?? 'failed', now, retryAt)
      })
    }
  }
}

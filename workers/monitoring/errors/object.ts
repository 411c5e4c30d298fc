/**
 * `ErrorProject`: one per (tenant, project) (`<tenant>:monitoring-errors:<id>`), the single
 * writer of the project's keys, issues, events, release files and counters.
 * The tenant's list of projects is `ErrorProjects` (registry.ts).
 *
 * Ingest is one transaction per envelope: the key is checked, the minute's rate limit is
 * charged (all or nothing: a refused envelope stores nothing), each event is de-minified
 * with the release's source maps, grouped, and applied to its issue. Alerts (a new issue, a
 * spike) are queued in the same transaction and handed to the tenant's rules object
 * (which signs, delivers and retries them) right after, or from the alarm if that fails.
 */
import { ERRORS_LIMITS, type ProjectInput, type ProjectPatch } from '../../../schemas/monitoring-errors'
import type { Env } from '../../platform/env'
import { AppError } from '../../platform/errors'
import { HostedObject } from '../../platform/hosted-object'
import { objectStub } from '../../platform/tenancy'
import { rulesObject } from '../rules/object'
import { newPublicKey } from './envelope'
import type { StoredEvent } from './event'
import { groupEvent } from './grouping'
import { applyEvent, isSpike, issueCursor, issueView, parseIssueCursor, userKey } from './issues'
import { applySourceMaps, MapCache, mapNamesFor } from './sourcemaps'
import { ErrorStore } from './store'

declare global {
  namespace Cloudflare {
    interface Env {
      ERROR_PROJECT: DurableObjectNamespace<ErrorProject>
    }
  }
}

export const errorProject = (env: Env, tenant: string, id: string) =>
  objectStub(env.ERROR_PROJECT, tenant, 'monitoring-errors', id)

export interface Settings {
  name: string
  eventsPerMinute: number
  alerts: { newIssues: boolean; spikeMinEvents: number }
}

export interface IngestBatch {
  events: StoredEvent[]
  transactions: number
  sessions: number
}

export type IngestResult =
  | { ok: true; ids: string[] }
  | { ok: false; reason: 'unknown_key' }
  | { ok: false; reason: 'rate_limited'; retryAfterSeconds: number }

/** Where events of new groups go once a project has `maxIssuesPerProject` issues: counted, not dropped. */
const OVERFLOW = {
  key: 'overflow',
  by: 'fingerprint' as const,
  title: 'Issue limit reached: events of further new groups are counted here',
  culprit: '',
}

export class ErrorProject extends HostedObject<Env> {
  private readonly store: ErrorStore
  private readonly maps = new MapCache()
  clock: () => number = () => Date.now()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new ErrorStore(ctx.storage.sql)
    void ctx.blockConcurrencyWhile(async () => this.store.migrate())
  }

  private settings(): Settings {
    const raw = this.store.meta('settings')
    if (raw === undefined) throw new AppError('not_found', 'No such project.')
    return JSON.parse(raw) as Settings
  }

  async init(tenant: string, id: string, input: ProjectInput): Promise<void> {
    const now = this.clock()
    this.ctx.storage.transactionSync(() => {
      this.store.setMeta('tenant', tenant)
      this.store.setMeta('id', id)
      this.store.setMeta('createdAt', String(now))
      this.store.setMeta('settings', JSON.stringify(mergeSettings(undefined, input)))
      this.store.addKey(newPublicKey(tenant, crypto.getRandomValues(new Uint8Array(16))), now)
    })
  }

  async configure(patch: ProjectPatch): Promise<void> {
    const next = mergeSettings(this.settings(), patch)
    this.store.setMeta('settings', JSON.stringify(next))
  }

  async view(origin: string) {
    const s = this.settings()
    const id = this.store.meta('id') as string
    const dsnBase = new URL(origin)
    return {
      id,
      name: s.name,
      eventsPerMinute: s.eventsPerMinute,
      alerts: s.alerts,
      createdAt: Number(this.store.meta('createdAt')),
      stats: {
        events: this.store.stat('events'),
        transactions: this.store.stat('transactions'),
        sessions: this.store.stat('sessions'),
        truncated: this.store.stat('truncated'),
        rateLimited: this.store.stat('rateLimited'),
        issues: this.store.issueCount(),
      },
      keys: this.store.keys().map((k) => ({
        publicKey: k.publicKey,
        dsn: `${dsnBase.protocol}//${k.publicKey}@${dsnBase.host}/${id}`,
        createdAt: k.createdAt,
      })),
    }
  }

  async addKey(origin: string) {
    this.settings()
    const tenant = this.store.meta('tenant') as string
    if (this.store.keys().length >= ERRORS_LIMITS.maxKeysPerProject)
      throw new AppError('conflict', `At most ${ERRORS_LIMITS.maxKeysPerProject} keys per project.`)
    const key = newPublicKey(tenant, crypto.getRandomValues(new Uint8Array(16)))
    this.store.addKey(key, this.clock())
    return (await this.view(origin)).keys.find((k) => k.publicKey === key)
  }

  async deleteKey(key: string): Promise<void> {
    this.settings()
    if (!this.store.deleteKey(key)) throw new AppError('not_found', 'No such key.')
  }

  async destroy(): Promise<void> {
    await this.ctx.storage.deleteAlarm()
    await this.ctx.storage.deleteAll()
    this.maps.clear()
    this.store.migrate()
  }

  // ---- ingest

  async ingest(key: string, batch: IngestBatch): Promise<IngestResult> {
    const now = this.clock()
    if (this.store.meta('settings') === undefined || !this.store.hasKey(key))
      return { ok: false, reason: 'unknown_key' }
    const settings = this.settings()
    const minute = Math.floor(now / 60_000)
    const charged = batch.events.length + batch.transactions
    if (charged > 0 && this.store.minuteCount(minute) + charged > settings.eventsPerMinute) {
      this.store.bump('rateLimited', charged)
      return {
        ok: false,
        reason: 'rate_limited',
        retryAfterSeconds: Math.ceil(((minute + 1) * 60_000 - now) / 1000),
      }
    }
    const prepared = batch.events.map((event) => this.symbolicate(event))
    let alerts = false
    const ids = this.ctx.storage.transactionSync(() => {
      const before = this.store.minuteCount(minute)
      if (charged > 0) this.store.addToMinute(minute, charged)
      this.store.bump('events', batch.events.length)
      this.store.bump('transactions', batch.transactions)
      this.store.bump('sessions', batch.sessions)
      const out: string[] = []
      for (const event of prepared) {
        let grouping = groupEvent(event)
        let existing = this.store.issueByGrouping(grouping.key)
        if (!existing && this.store.issueCount() >= ERRORS_LIMITS.maxIssuesPerProject) {
          grouping = OVERFLOW
          existing = this.store.issueByGrouping(OVERFLOW.key)
        }
        const releaseFirstSeen = event.release ? this.store.seeRelease(event.release, now) : null
        const user = userKey(event)
        const newUser = existing && user ? this.store.addUser(existing.id, user) : false
        const applied = applyEvent(existing, event, grouping, releaseFirstSeen, newUser, now)
        let id: number
        if (existing) {
          id = existing.id
          this.store.updateIssue({ ...applied.issue, id })
        } else {
          id = this.store.insertIssue(grouping.key, applied.issue)
          if (user) this.store.addUser(id, user)
        }
        if (event.release) this.store.addIssueRelease(id, event.release, now)
        if (event.truncated) this.store.bump('truncated', 1)
        this.store.addEvent(id, event.eventId, now, JSON.stringify(event), ERRORS_LIMITS.eventsPerIssue)
        out.push(event.eventId)
        if ((applied.isNew && settings.alerts.newIssues) || applied.regressed) {
          alerts = true
          this.store.queueAlert(
            JSON.stringify({
              labels: {
                alertname: applied.isNew ? 'NewIssue' : 'IssueRegressed',
                issue: String(id),
                level: event.level,
              },
              annotations: {
                summary: grouping.title,
                culprit: grouping.culprit,
                release: event.release ?? '',
              },
            }),
          )
        }
      }
      const after = before + charged
      const spiking = isSpike(after, this.store.hourMean(minute), settings.alerts.spikeMinEvents)
      if (spiking && !isSpike(before, this.store.hourMean(minute), settings.alerts.spikeMinEvents)) {
        alerts = true
        this.store.queueAlert(
          JSON.stringify({
            labels: { alertname: 'ErrorRateSpike' },
            annotations: { summary: `${after} events in one minute`, eventsPerMinute: String(after) },
          }),
        )
      }
      return out
    })
    if (alerts) await this.flushAlerts()
    return { ok: true, ids }
  }

  private symbolicate(event: StoredEvent): StoredEvent {
    const release = event.release
    if (!release || event.exceptions.length === 0) return event
    const mapFor = (absPath: string) => {
      for (const name of mapNamesFor(absPath)) {
        const map = this.maps.get(`${release}\u0000${name}`, () => {
          const bytes = this.store.file(release, name)
          return bytes && new TextDecoder().decode(bytes)
        })
        if (map) return map
      }
      return null
    }
    return {
      ...event,
      exceptions: event.exceptions.map((e) => ({ ...e, frames: applySourceMaps(e.frames, mapFor).frames })),
    }
  }

  private async flushAlerts(): Promise<void> {
    const tenant = this.store.meta('tenant')
    if (tenant === undefined) return
    const project = this.store.meta('id') ?? ''
    try {
      for (const row of this.store.pendingAlerts()) {
        const { labels, annotations } = JSON.parse(row.body) as {
          labels: Record<string, string>
          annotations: Record<string, string>
        }
        await rulesObject(this.env, tenant).notify(tenant, { ...labels, project }, annotations, this.clock())
        this.store.alertSent(row.id)
      }
    } catch (error) {
      console.error(JSON.stringify({ level: 'warn', block: 'monitoring', error: String(error) }))
      await this.ctx.storage.setAlarm(this.clock() + 30_000)
    }
  }

  override async alarm(): Promise<void> {
    await this.flushAlerts()
  }

  // ---- issues

  async listIssues(limit: number, cursor: string | undefined, status?: string) {
    this.settings()
    const after = cursor ? parseIssueCursor(cursor) : null
    if (cursor && !after) throw new AppError('bad_request', 'Invalid cursor.')
    const rows = this.store.listIssues(limit + 1, after, status)
    const page = rows.slice(0, limit)
    const last = page.at(-1)
    return { issues: page.map(issueView), cursor: rows.length > limit && last ? issueCursor(last) : null }
  }

  async getIssue(id: number) {
    this.settings()
    const issue = this.store.issue(id)
    if (!issue) throw new AppError('not_found', `No issue ${id}.`)
    const latest = this.store.latestEvent(id)
    return {
      ...issueView(issue),
      releases: this.store
        .issueReleases(id)
        .map((r) => ({ release: r.release, firstSeen: new Date(r.firstSeen).toISOString(), count: r.count })),
      latestEvent: latest ? (JSON.parse(latest) as Record<string, unknown>) : null,
    }
  }

  async setStatus(id: number, status: 'resolved' | 'unresolved' | 'ignored') {
    const now = this.clock()
    this.ctx.storage.transactionSync(() => {
      const issue = this.store.issue(id)
      if (!issue) throw new AppError('not_found', `No issue ${id}.`)
      this.store.updateIssue({ ...issue, status, resolvedAt: status === 'resolved' ? now : null })
    })
    return this.getIssue(id)
  }

  // ---- release files

  async putFile(release: string, name: string, bytes: Uint8Array) {
    this.settings()
    const now = this.clock()
    this.ctx.storage.transactionSync(() => {
      const files = this.store.files(release)
      if (!files.some((f) => f.name === name) && files.length >= ERRORS_LIMITS.maxFilesPerRelease)
        throw new AppError('conflict', `At most ${ERRORS_LIMITS.maxFilesPerRelease} files per release.`)
      this.store.putFile(release, name, bytes, now)
    })
    this.maps.clear()
    return { name, size: bytes.length, uploadedAt: now }
  }

  async listFiles(release: string) {
    this.settings()
    return this.store.files(release)
  }

  async deleteFile(release: string, name: string): Promise<void> {
    this.settings()
    if (!this.store.deleteFile(release, name))
      throw new AppError('not_found', `No file ${name} in ${release}.`)
    this.maps.clear()
  }
}

function mergeSettings(current: Settings | undefined, input: ProjectPatch): Settings {
  return {
    name: input.name ?? current?.name ?? '',
    eventsPerMinute:
      input.eventsPerMinute ?? current?.eventsPerMinute ?? ERRORS_LIMITS.defaultEventsPerMinute,
    alerts: {
      newIssues: input.alerts?.newIssues ?? current?.alerts.newIssues ?? true,
      spikeMinEvents:
        input.alerts?.spikeMinEvents ?? current?.alerts.spikeMinEvents ?? ERRORS_LIMITS.defaultSpikeMinEvents,
    },
  }
}

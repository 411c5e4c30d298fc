/**
 * `DnsZone`: the Durable Object that holds one hosted zone (named by the zone, which is
 * global) and answers for it. A thin host over the logic: `records.ts` checks changes,
 * `answer.ts` computes answers, `dnssec.ts` signs them, `zonefile.ts` reads and writes
 * master files, `store.ts` keeps the tables. Every change is one `transactionSync` that
 * also bumps the SOA serial; the zone is rebuilt in memory after it. The one alarm runs
 * the HTTP health checks of failover RRsets when they are due (times in `health`); a
 * failover record that names a load balancer pool takes the pool's live mode instead, asked
 * of the pool (the lb block's `poolMode`) whenever an answer or a listing needs it.
 */

import { poolMode } from '../lb/manage'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { HostedObject } from '../platform/hosted-object'
import { type Answer, answerQuestion } from './answer'
import { generateKeyMaterial, type KeyMaterial, publishedKeys, ZoneSigner } from './dnssec'
import { runHealthCheck } from './health'
import { formatSignedZone, presignZone } from './presign'
import {
  apexRRsets,
  applyPatch,
  poolsOf,
  type RRsetChange,
  type RRsetView,
  rrsetKey,
  serialOf,
  toView,
  withSerial,
} from './records'
import { signAnswer } from './signing'
import { type HealthRow, ZoneStore } from './store'
import type { Question } from './wire/message'
import { lowerName } from './wire/names'
import { TYPE, typeCode, typeName } from './wire/types'
import { type RRset, Zone } from './zone'
import { formatZoneFile, parseZoneFile } from './zonefile'

declare global {
  namespace Cloudflare {
    interface Env {
      DNS_ZONES: DurableObjectNamespace<DnsZone>
    }
  }
}

/** RRSIG, NSEC, DNSKEY, NSEC3, NSEC3PARAM: dropped from imported files. */
const SIGNER_TYPES = new Set<number>([TYPE.RRSIG, TYPE.NSEC, TYPE.DNSKEY, 50, 51])

export interface ZoneInit {
  origin: string
  tenant: string
  nameservers: string[]
  dnssec: boolean
  changes: RRsetChange[]
  now: number
}

export interface ZoneSummary {
  name: string
  serial: number
  dnssec: boolean
  ds: string[]
  dnskey: string[]
  rrsetCount: number
  createdAt: number
}

export interface QueryOptions {
  dnssecOk: boolean
  country?: string
  latitude?: number
  longitude?: number
  subnet?: { family: 1 | 2; address: Uint8Array }
}

export interface RRsetFilter {
  name?: string
  type?: string
  limit: number
  after?: string
}

export class DnsZone extends HostedObject<Env> {
  private readonly store: ZoneStore
  private origin = ''
  private rrsets = new Map<string, RRset>()
  private zone: Zone | undefined
  private signer: ZoneSigner | undefined
  private health = new Map<string, boolean>()

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    this.store = new ZoneStore(ctx.storage.sql)
    ctx.blockConcurrencyWhile(async () => {
      this.store.migrate()
      await this.load()
    })
  }

  private async load(): Promise<void> {
    const origin = this.store.getMeta('origin')
    this.zone = undefined
    this.signer = undefined
    if (origin === undefined) return
    this.origin = origin
    this.rrsets = this.store.loadRRsets(origin)
    const key = this.store.getMeta('dnssec')
    if (key) this.signer = await ZoneSigner.create(origin, JSON.parse(key) as KeyMaterial)
    this.rebuild()
    this.loadHealth(this.store.healthRows())
  }

  private rebuild(): void {
    const extra: RRset[] = []
    if (this.signer) {
      const dnskey = this.signer.dnskey
      extra.push({
        name: this.origin,
        type: TYPE.DNSKEY,
        ttl: 3600,
        records: [{ content: '', data: dnskey }],
      })
    }
    this.zone = new Zone(this.origin, [...this.rrsets.values(), ...extra])
  }

  private loadHealth(rows: HealthRow[]): void {
    this.health = new Map(
      rows
        .filter((row) => row.healthy !== null)
        .map((row) => [`${row.key}|${row.content}`, row.healthy === 1]),
    )
  }

  private requireZone(): Zone {
    if (!this.zone) throw new AppError('not_found', 'No such zone.')
    return this.zone
  }

  /** Creates the zone (forgetting anything stored under this name before) with its SOA and NS. */
  async initialize(init: ZoneInit): Promise<ZoneSummary> {
    const origin = init.origin
    const base = apexRRsets(origin, init.nameservers)
    const rrsets = init.changes.length > 0 ? applyPatch(base, origin, init.changes) : base
    const material = init.dnssec ? await generateKeyMaterial() : undefined
    this.ctx.storage.transactionSync(() => {
      this.store.wipe()
      this.store.setMeta('origin', origin)
      this.store.setMeta('tenant', init.tenant)
      this.store.setMeta('created_at', String(init.now))
      if (material) this.store.setMeta('dnssec', JSON.stringify(material))
      this.store.saveChanges(new Map(), rrsets)
    })
    await this.load()
    await this.armAlarm()
    return this.describe()
  }

  async describe(): Promise<ZoneSummary> {
    const zone = this.requireZone()
    const keys = this.signer ? await publishedKeys(this.origin, this.signer.dnskey) : undefined
    return {
      name: this.origin,
      serial: serialOf(zone.soa),
      dnssec: this.signer !== undefined,
      ds: keys ? [keys.ds] : [],
      dnskey: keys ? [keys.dnskey] : [],
      rrsetCount: this.rrsets.size,
      createdAt: Number(this.store.getMeta('created_at') ?? 0),
    }
  }

  /** RRsets in (name, type) order, filtered by exact name and type. */
  async listRRsets(filter: RRsetFilter): Promise<{ items: RRsetView[]; nextKey?: string }> {
    this.requireZone()
    const type = filter.type === undefined ? undefined : typeCode(filter.type)
    const name = filter.name === undefined ? undefined : lowerName(filter.name.replace(/\.$/, ''))
    const keys = [...this.rrsets.keys()].sort()
    const matching = keys.filter((key) => {
      const set = this.rrsets.get(key) as RRset
      return (
        (filter.after === undefined || key > filter.after) &&
        (name === undefined || lowerName(set.name) === name) &&
        (type === undefined || set.type === type)
      )
    })
    const page = matching.slice(0, filter.limit)
    const pools = await this.poolHealth(page.flatMap((key) => poolsOf(this.rrsets.get(key) as RRset)))
    const items = page.map((key) =>
      toView(this.rrsets.get(key) as RRset, (set, index) => this.healthOf(set, index, pools)),
    )
    return matching.length > filter.limit ? { items, nextKey: page.at(-1) as string } : { items }
  }

  /** Whether this zone delegates exactly `name` to a child (an NS RRset below the apex). */
  delegates(name: string): boolean {
    return lowerName(name) !== lowerName(this.origin) && this.zone?.get(name, TYPE.NS) !== undefined
  }

  /**
   * A failover record's health: its pool's (from `pools`; undefined when not in it), else
   * whether its last HTTP check passed (undefined before the first).
   */
  private healthOf(rrset: RRset, index: number, pools: ReadonlyMap<string, boolean | undefined>) {
    const pool = rrset.policy?.attributes[index]?.pool
    if (pool !== undefined) return pools.get(pool)
    const content = rrset.records[index]?.content
    return this.health.get(`${rrsetKey(rrset.name, rrset.type)}|${content}`)
  }

  /**
   * The health of the zone owner's pools: healthy unless `down`; a pool that is gone is
   * unhealthy; one whose object does not answer is unknown (counted healthy).
   */
  private async poolHealth(names: Iterable<string>): Promise<Map<string, boolean | undefined>> {
    const tenant = this.store.getMeta('tenant') ?? ''
    const unique = [...new Set(names)]
    const modes = await Promise.all(
      unique.map((name) => poolMode(this.env, tenant, name).catch(() => 'unknown' as const)),
    )
    return new Map(
      unique.map((name, i) => {
        const mode = modes[i]
        return [name, mode === 'unknown' ? undefined : mode !== undefined && mode !== 'down']
      }),
    )
  }

  /** Applies PowerDNS-style RRset changes atomically and bumps the serial. */
  async patch(changes: RRsetChange[]): Promise<{ serial: number }> {
    this.requireZone()
    return this.commit(applyPatch(this.rrsets, this.origin, changes))
  }

  async importZone(text: string, mode: 'replace' | 'merge'): Promise<{ serial: number; rrsets: number }> {
    this.requireZone()
    // DNSSEC records of a signed file are the old signer's: the platform signs for itself.
    const changes = parseZoneFile(text, this.origin).filter(
      (change) => !SIGNER_TYPES.has(typeCode(change.type) ?? 0),
    )
    const soaKey = rrsetKey(this.origin, TYPE.SOA)
    const start = mode === 'replace' ? new Map([[soaKey, this.rrsets.get(soaKey) as RRset]]) : this.rrsets
    const next = applyPatch(start, this.origin, changes)
    const { serial } = await this.commit(next)
    return { serial, rrsets: next.size }
  }

  /** The zone as a master file; `signed`: pre-signed (DNSKEY, RRSIGs, a full NSEC chain). */
  async exportZone(signed = false): Promise<string> {
    const zone = this.requireZone()
    if (signed) {
      if (!this.signer)
        throw new AppError('conflict', 'The zone is not signed: turn DNSSEC on before a signed export.')
      const groups = await presignZone(zone, this.signer, Math.floor(Date.now() / 1000))
      return formatSignedZone(this.origin, groups)
    }
    return formatZoneFile(
      this.origin,
      zone.all().filter((set) => set.type !== TYPE.DNSKEY),
    )
  }

  private async commit(next: Map<string, RRset>): Promise<{ serial: number }> {
    const soaKey = rrsetKey(this.origin, TYPE.SOA)
    const serial = (serialOf(this.rrsets.get(soaKey) as RRset) + 1) % 4294967296
    next.set(soaKey, withSerial(next.get(soaKey) as RRset, serial))
    this.ctx.storage.transactionSync(() => this.store.saveChanges(this.rrsets, next))
    this.rrsets = next
    this.rebuild()
    this.loadHealth(this.store.healthRows())
    await this.armAlarm()
    return { serial }
  }

  /** Turns online signing on (a new key) or off; the serial is bumped either way. */
  async setDnssec(enabled: boolean): Promise<ZoneSummary> {
    this.requireZone()
    if (enabled && !this.signer) {
      const material = await generateKeyMaterial()
      this.store.setMeta('dnssec', JSON.stringify(material))
      this.signer = await ZoneSigner.create(this.origin, material)
    } else if (!enabled && this.signer) {
      this.store.deleteMeta('dnssec')
      this.signer = undefined
    }
    await this.commit(new Map(this.rrsets))
    return this.describe()
  }

  /**
   * The answer to one question. Pool health is asked only when the answer meets a record
   * that names a pool: the first pass notes the pools it met, the second answers with them.
   */
  async query(question: Question, options: QueryOptions): Promise<Answer> {
    const zone = this.requireZone()
    let pools = new Map<string, boolean | undefined>()
    const met = new Set<string>()
    const context = {
      ...(options.country !== undefined ? { country: options.country } : {}),
      ...(options.latitude !== undefined ? { latitude: options.latitude } : {}),
      ...(options.longitude !== undefined ? { longitude: options.longitude } : {}),
      ...(options.subnet ? { subnet: options.subnet } : {}),
      random: Math.random,
      healthy: (rrset: RRset, index: number) => {
        const pool = rrset.policy?.attributes[index]?.pool
        if (pool !== undefined && !pools.has(pool)) met.add(pool)
        return this.healthOf(rrset, index, pools)
      },
    }
    let answer = answerQuestion(zone, question, context)
    if (met.size > 0) {
      pools = await this.poolHealth(met)
      answer = answerQuestion(zone, question, context)
    }
    if (!this.signer || !options.dnssecOk) return answer
    return signAnswer(zone, this.signer, question, answer, Math.floor(Date.now() / 1000))
  }

  async destroy(): Promise<void> {
    this.ctx.storage.transactionSync(() => this.store.wipe())
    await this.ctx.storage.deleteAlarm()
    await this.load()
  }

  /** Runs every due health check now (the alarm, or a user asking for a check). */
  async runHealthChecks(
    all = false,
  ): Promise<Array<{ name: string; type: string; content: string; healthy: boolean }>> {
    const now = Date.now()
    const rows = all ? this.store.healthRows() : this.store.dueHealth(now)
    const results = await Promise.all(
      rows.map(async (row) => {
        const rrset = this.rrsets.get(row.key)
        const check = rrset?.policy?.healthCheck
        if (!rrset || !check) return undefined
        const healthy = await runHealthCheck(check, rrset.type, row.content)
        return { row, rrset, healthy, nextAt: now + check.intervalSeconds * 1000 }
      }),
    )
    const done = results.filter((result) => result !== undefined)
    this.ctx.storage.transactionSync(() => {
      for (const { row, healthy, nextAt } of done)
        this.store.recordHealth(row.key, row.content, healthy, now, nextAt)
    })
    this.loadHealth(this.store.healthRows())
    await this.armAlarm()
    return done.map(({ rrset, row, healthy }) => ({
      name: rrset.name,
      type: typeName(rrset.type),
      content: row.content,
      healthy,
    }))
  }

  private async armAlarm(): Promise<void> {
    const due = this.store.nextHealthDue()
    if (due === undefined) await this.ctx.storage.deleteAlarm()
    else await this.ctx.storage.setAlarm(Math.max(due, Date.now()))
  }

  override async alarm(): Promise<void> {
    await this.runHealthChecks()
  }
}

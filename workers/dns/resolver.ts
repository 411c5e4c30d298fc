/**
 * The resolver: iterative resolution down the hosted delegation tree, forwarding outside it.
 *
 * For a name, it starts at the deepest zone cut it has cached, else at the top-most hosted
 * zone above the name (the tree's "root hints": which zone objects exist), asks that zone,
 * and follows each referral to the child zone it names — answers come only from walking,
 * never by jumping to the deepest zone. CNAMEs leaving a zone are chased across zones and
 * out to upstream servers (except into `edgeblocks.internal`, the hostname-routing targets). Limits: 16 referrals per name, 8 CNAME links; a referral out of
 * the hosted tree, a delegation loop, an unreachable zone or failing upstreams give
 * SERVFAIL with an Extended DNS Error (RFC 8914) saying which.
 *
 * Cache: answers (positive for their smallest TTL, negative for the SOA's negative TTL,
 * RFC 2308) and zone cuts (for the NS TTL), per isolate, TTLs counted down when served.
 * Costs: a warm query is one map lookup; a cold one a zone query per level.
 */
import { IsolateCache } from '../platform/isolate-cache'
import type { Answer } from './answer'
import type { Message, Question, ResourceRecord } from './wire/message'
import { ancestorsOf, isAtOrBelow, lowerName } from './wire/names'
import { rdataTarget } from './wire/rdata'
import { EDE, RCODE, TYPE } from './wire/types'

export const MAX_REFERRALS = 16
export const MAX_CNAME_LINKS = 8
/** Longest time anything stays cached, whatever its TTL says (seconds). */
export const MAX_CACHE_TTL = 86_400
/** Targets of hostname routing (`<name>.<kind>.edgeblocks.internal`): a chain ends there, never resolved. */
export const INTERNAL_DOMAIN = 'edgeblocks.internal'

export interface ResolverPorts {
  /** Which of these names are hosted zones (lowercase). */
  hostedZones(names: string[]): Promise<Set<string>>
  /** Asks one hosted zone's object. */
  queryZone(zone: string, question: Question): Promise<Answer>
  /** Asks the upstream servers (failing over between them); throws when none answers. */
  forward(question: Question): Promise<Message>
}

export interface Resolution {
  rcode: number
  answers: ResourceRecord[]
  authorities: ResourceRecord[]
  /** Extended DNS Error for a SERVFAIL. */
  ede?: { code: number; text: string }
  source: 'cache' | 'hosted' | 'upstream'
}

interface Cached {
  resolution: Resolution
  storedAt: number
}

function servfail(code: number, text: string): Resolution {
  return { rcode: RCODE.SERVFAIL, answers: [], authorities: [], ede: { code, text }, source: 'hosted' }
}

function minTtl(records: ResourceRecord[]): number | undefined {
  return records.length === 0 ? undefined : Math.min(...records.map((record) => record.ttl))
}

/** How long a resolution may be cached, in seconds (0: not at all). */
export function cacheTtl(resolution: Resolution): number {
  if (resolution.ede || resolution.rcode === RCODE.SERVFAIL || resolution.rcode === RCODE.REFUSED) return 0
  const negative = resolution.answers.length === 0 || resolution.rcode === RCODE.NXDOMAIN
  const soa = resolution.authorities.find((record) => record.type === TYPE.SOA)
  const ttl = negative ? (soa ? soa.ttl : 0) : (minTtl(resolution.answers) ?? 0)
  return Math.min(ttl, MAX_CACHE_TTL)
}

export class Resolver {
  private readonly answers = new IsolateCache<Cached>(MAX_CACHE_TTL * 1000, 50_000)
  private readonly cuts = new IsolateCache<true>(MAX_CACHE_TTL * 1000, 10_000)

  /** Resolves a question, chasing CNAMEs; `scope` separates cache entries (DO bit, client country). */
  async resolve(question: Question, ports: ResolverPorts, now: number, scope = ''): Promise<Resolution> {
    const answers: ResourceRecord[] = []
    const seen = new Set<string>()
    let name = question.name
    for (let link = 0; ; link++) {
      const step = await this.resolveName({ ...question, name }, ports, now, scope)
      answers.push(...step.answers)
      if (step.rcode !== RCODE.NOERROR || step.ede) return { ...step, answers }
      for (const record of step.answers) if (record.type === TYPE.CNAME) seen.add(lowerName(record.name))
      const last = step.answers.at(-1)
      if (question.type === TYPE.CNAME || last?.type !== TYPE.CNAME) return { ...step, answers }
      const target = rdataTarget(TYPE.CNAME, last.data) as string
      if (isAtOrBelow(target, INTERNAL_DOMAIN)) return { ...step, answers }
      if (seen.has(lowerName(target))) return servfail(EDE.OTHER, `CNAME loop at ${target}`)
      if (link + 1 >= MAX_CNAME_LINKS) return servfail(EDE.OTHER, `More than ${MAX_CNAME_LINKS} CNAME links`)
      name = target
    }
  }

  private async resolveName(
    question: Question,
    ports: ResolverPorts,
    now: number,
    scope: string,
  ): Promise<Resolution> {
    const key = `${scope}|${lowerName(question.name)}|${question.type}`
    const hit = this.answers.lookup(key, now)
    if (hit) {
      const elapsed = Math.floor((now - hit.value.storedAt) / 1000)
      const age = (records: ResourceRecord[]) =>
        records.map((r) => ({ ...r, ttl: Math.max(0, r.ttl - elapsed) }))
      const { resolution } = hit.value
      return {
        ...resolution,
        answers: age(resolution.answers),
        authorities: age(resolution.authorities),
        source: 'cache',
      }
    }
    const resolution = await this.walk(question, ports, now)
    const ttl = cacheTtl(resolution)
    if (ttl > 0) this.answers.set(key, { resolution, storedAt: now }, now, ttl * 1000)
    return resolution
  }

  private async walk(question: Question, ports: ResolverPorts, now: number): Promise<Resolution> {
    const ancestors = ancestorsOf(lowerName(question.name))
    const hosted = await ports.hostedZones(ancestors)
    const top = [...ancestors].reverse().find((name) => hosted.has(name))
    if (top === undefined) return this.forward(question, ports)
    let zone = ancestors.find((name) => hosted.has(name) && this.cuts.lookup(name, now)) ?? top
    for (let referrals = 0; ; referrals++) {
      if (referrals > MAX_REFERRALS) return servfail(EDE.OTHER, `More than ${MAX_REFERRALS} referrals`)
      let answer: Answer
      try {
        answer = await ports.queryZone(zone, question)
      } catch {
        return servfail(EDE.NO_REACHABLE_AUTHORITY, `The zone ${zone} did not answer`)
      }
      if (answer.kind !== 'referral') {
        return {
          rcode: answer.rcode,
          answers: answer.answers,
          authorities: answer.authorities,
          source: 'hosted',
        }
      }
      const ns = answer.authorities.filter((record) => record.type === TYPE.NS)
      const child = lowerName((ns[0] as ResourceRecord).name)
      if (child === zone) return servfail(EDE.OTHER, `Delegation loop at ${child}`)
      if (!hosted.has(child)) {
        return servfail(
          EDE.NO_REACHABLE_AUTHORITY,
          `${child} is delegated to servers outside the hosted tree`,
        )
      }
      this.cuts.set(child, true, now, Math.min(minTtl(ns) ?? 0, MAX_CACHE_TTL) * 1000)
      zone = child
    }
  }

  private async forward(question: Question, ports: ResolverPorts): Promise<Resolution> {
    try {
      const message = await ports.forward(question)
      return {
        rcode: message.rcode,
        answers: message.answers,
        authorities: message.authorities,
        source: 'upstream',
      }
    } catch (error) {
      return servfail(
        EDE.NETWORK_ERROR,
        error instanceof Error ? error.message : 'No upstream server answered',
      )
    }
  }
}

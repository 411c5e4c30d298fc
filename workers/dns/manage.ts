/**
 * Zones in the registry. A zone name is global: its owner is recorded under the reserved
 * owner `_dns` (no token can carry that tenant), so a second claim is a 409 whoever makes
 * it, and each tenant also has its own row for listing. A zone below another tenant's zone
 * is refused (409) unless that zone delegates exactly this name with NS records (the
 * parent's consent). The zone's records live in its `DnsZone` object, named by the zone.
 * A failover record may name a load balancer pool as its health source: only a pool of the
 * zone's owner (checked here, before the zone object sees the change).
 */
import { and, eq, inArray } from 'drizzle-orm'
import type * as v from 'valibot'
import type { CreateZoneRequest } from '../../schemas/dns'
import { poolExists } from '../lb/manage'
import { database, tables } from '../platform/db'
import type { Env } from '../platform/env'
import { AppError, type FieldError } from '../platform/errors'
import { IsolateCache } from '../platform/isolate-cache'
import { createResource, deleteResource, findResource, listResources } from '../platform/registry'
import type { DnsZone, ZoneSummary } from './object'
import { normalizeName, type RRsetChange } from './records'
import { dnsSettings } from './settings'
import { ancestorsOf } from './wire/names'

export const ZONE_KIND = 'dns-zone'
/** The reserved owner of the global zone rows. */
export const GLOBAL_OWNER = '_dns'

export function zoneStub(env: Env, zone: string): DurableObjectStub<DnsZone> {
  return env.DNS_ZONES.get(env.DNS_ZONES.idFromName(`${GLOBAL_OWNER}:${ZONE_KIND}:${zone}`))
}

interface GlobalZoneConfig {
  owner: string
}

/** Hosted zones by name → owner, cached per isolate for a few seconds. */
const owners = new IsolateCache<string | null>(5000, 50_000)

/** The hosted zones among `names`, mapped to their owners (one registry query for the misses). */
export async function hostedZones(env: Env, names: string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>()
  const missing: string[] = []
  for (const name of names) {
    const hit = owners.lookup(name)
    if (!hit) missing.push(name)
    else if (hit.value !== null) found.set(name, hit.value)
  }
  if (missing.length > 0) {
    const { resources } = tables
    const rows = await database(env)
      .select({ name: resources.name, config: resources.config })
      .from(resources)
      .where(
        and(
          eq(resources.tenant, GLOBAL_OWNER),
          eq(resources.kind, ZONE_KIND),
          inArray(resources.name, missing),
        ),
      )
    const fresh = new Map(rows.map((row) => [row.name, (JSON.parse(row.config) as GlobalZoneConfig).owner]))
    for (const name of missing) {
      const owner = fresh.get(name)
      owners.set(name, owner ?? null)
      if (owner !== undefined) found.set(name, owner)
    }
  }
  return found
}

/** The deepest hosted zone containing `name`, if any. */
export async function closestZone(
  env: Env,
  name: string,
): Promise<{ zone: string; owner: string } | undefined> {
  const candidates = ancestorsOf(name.toLowerCase())
  const hosted = await hostedZones(env, candidates)
  const zone = candidates.find((candidate) => hosted.has(candidate))
  return zone === undefined ? undefined : { zone, owner: hosted.get(zone) as string }
}

export async function createZone(
  env: Env,
  tenant: string,
  input: string,
  request: v.InferOutput<typeof CreateZoneRequest>,
): Promise<ZoneSummary> {
  const zone = normalizeName(input, 'path/zone')
  if (zone.startsWith('*')) throw new AppError('validation_failed', 'A zone name has no wildcard label.')
  await checkPools(env, tenant, request.rrsets)
  const ancestors = ancestorsOf(zone).slice(1)
  const hosted = await hostedZones(env, ancestors)
  const parent = ancestors.find((name) => hosted.has(name))
  if (parent !== undefined && hosted.get(parent) !== tenant) {
    const delegated = await zoneStub(env, parent).delegates(zone)
    if (!delegated) {
      throw new AppError(
        'conflict',
        `"${zone}" is inside the zone "${parent}" of another tenant, which does not delegate it.`,
      )
    }
  }
  try {
    await createResource<GlobalZoneConfig>(env, GLOBAL_OWNER, ZONE_KIND, zone, { owner: tenant })
  } catch (error) {
    if (error instanceof AppError && error.code === 'conflict')
      throw new AppError('conflict', `The zone "${zone}" is already hosted.`)
    throw error
  }
  owners.delete(zone)
  try {
    const summary = await zoneStub(env, zone).initialize({
      origin: zone,
      tenant,
      nameservers: dnsSettings(env).nameservers,
      dnssec: request.dnssec,
      changes: request.rrsets,
      now: Date.now(),
    })
    await createResource(env, tenant, ZONE_KIND, zone, {})
    return summary
  } catch (error) {
    await deleteResource(env, GLOBAL_OWNER, ZONE_KIND, zone).catch(() => undefined)
    throw error
  }
}

/** The zone's object after checking the tenant owns it (404 otherwise, foreign or absent alike). */
export async function ownedZone(
  env: Env,
  tenant: string,
  input: string,
): Promise<DurableObjectStub<DnsZone>> {
  const zone = normalizeName(input, 'path/zone')
  if (!(await findResource(env, tenant, ZONE_KIND, zone)))
    throw new AppError('not_found', `No zone "${zone}".`)
  return zoneStub(env, zone)
}

/** Refuses (400, every failing field) records naming a pool the tenant does not have. */
export async function checkPools(env: Env, tenant: string, changes: RRsetChange[]): Promise<void> {
  const named = changes.flatMap((change, i) =>
    change.changetype === 'DELETE'
      ? []
      : (change.records ?? []).flatMap((record, j) =>
          record.pool === undefined
            ? []
            : [{ pool: record.pool, path: `body/rrsets/${i}/records/${j}/pool` }],
        ),
  )
  const known = new Map<string, boolean>()
  const errors: FieldError[] = []
  for (const { pool, path } of named) {
    if (!known.has(pool)) known.set(pool, await poolExists(env, tenant, pool))
    if (!known.get(pool)) errors.push({ path, message: `No load balancer pool named "${pool}"` })
  }
  if (errors.length > 0) throw new AppError('validation_failed', 'The RRset changes are invalid.', { errors })
}

/** PowerDNS-style RRset changes to an owned zone, after the pools they name are checked. */
export async function patchZone(
  env: Env,
  tenant: string,
  input: string,
  changes: RRsetChange[],
): Promise<{ serial: number; rrsets: number }> {
  const stub = await ownedZone(env, tenant, input)
  await checkPools(env, tenant, changes)
  const { serial } = await stub.patch(changes)
  const { rrsetCount } = await stub.describe()
  return { serial, rrsets: rrsetCount }
}

export async function deleteZone(env: Env, tenant: string, input: string): Promise<void> {
  const zone = normalizeName(input, 'path/zone')
  const stub = await ownedZone(env, tenant, zone)
  await stub.destroy()
  await deleteResource(env, tenant, ZONE_KIND, zone)
  await deleteResource(env, GLOBAL_OWNER, ZONE_KIND, zone)
  owners.delete(zone)
}

export async function listZones(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
) {
  const result = await listResources(env, tenant, ZONE_KIND, page)
  return {
    items: result.items.map((item) => ({ name: item.name, createdAt: item.createdAt })),
    ...(result.nextCursor ? { nextCursor: result.nextCursor } : {}),
  }
}

/**
 * `/v1/dns`: zone management. Zones (create, read, list, delete), RRsets (list with
 * filters, PowerDNS-style PATCH), zone files (import, export), DNSSEC on/off and the
 * failover health checks run on demand. Queries go to the public `/dns-query` and
 * `/resolve` (doh.ts).
 */
import { Hono } from 'hono'
import { Deleted, PageQuery } from '../../schemas/common'
import {
  CreateZoneRequest,
  DNS_LIMITS,
  DnssecRequest,
  ExportQuery,
  ImportQuery,
  ImportResult,
  PatchZoneRequest,
  RRsetList,
  RRsetQuery,
  ZoneList,
  ZoneParam,
  ZoneView,
} from '../../schemas/dns'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { decodeCursor, encodeCursor } from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { createZone, deleteZone, listZones, ownedZone, patchZone } from './manage'

const tags = ['dns']

export const dnsRoutes = new Hono<AuthEnv>()
  .get(
    '/zones',
    describe({
      tags,
      summary: "List the tenant's zones",
      scope: 'dns:read',
      responses: { 200: { description: 'A page of zones, by name', schema: ZoneList } },
    }),
    requireScope('dns:read'),
    validate('query', PageQuery),
    async function listZonesRoute(c) {
      return c.json(await listZones(c.env, tenantOf(c), c.req.valid('query')))
    },
  )
  .put(
    '/zones/:zone',
    describe({
      tags,
      summary: 'Create a zone',
      description:
        'The platform writes the SOA (its serial bumps on every change) and the NS RRset from its settings. ' +
        "A zone name is global: 409 when it is hosted already, or when it lies inside another tenant's zone " +
        'that does not delegate it with NS records. Optional initial RRsets use the PATCH format.',
      scope: 'dns:write',
      responses: { 201: { description: 'Created', schema: ZoneView } },
      problems: [409],
    }),
    requireScope('dns:write'),
    validate('param', ZoneParam),
    validate('json', CreateZoneRequest),
    async function createZoneRoute(c) {
      return c.json(await createZone(c.env, tenantOf(c), c.req.valid('param').zone, c.req.valid('json')), 201)
    },
  )
  .get(
    '/zones/:zone',
    describe({
      tags,
      summary: 'A zone: serial, DNSSEC state, DS and DNSKEY',
      scope: 'dns:read',
      responses: { 200: { description: 'The zone', schema: ZoneView } },
      problems: [404],
    }),
    requireScope('dns:read'),
    validate('param', ZoneParam),
    async function getZoneRoute(c) {
      const stub = await ownedZone(c.env, tenantOf(c), c.req.valid('param').zone)
      return c.json(await stub.describe())
    },
  )
  .delete(
    '/zones/:zone',
    describe({
      tags,
      summary: 'Delete a zone and its records',
      scope: 'dns:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('dns:write'),
    validate('param', ZoneParam),
    async function deleteZoneRoute(c) {
      await deleteZone(c.env, tenantOf(c), c.req.valid('param').zone)
      return c.json({ deleted: true })
    },
  )
  .patch(
    '/zones/:zone',
    describe({
      tags,
      summary: 'Change RRsets (PowerDNS style)',
      description:
        'Each entry REPLACEs or DELETEs one RRset (name + type). All or nothing: any invalid entry answers 400 ' +
        'listing every failing field and nothing changes. Names in record content are relative to the zone ' +
        'unless they end with a dot. The SOA serial is bumped. A failover record may name a load balancer ' +
        "`pool` of the tenant's as its health source (400 when there is no such pool).",
      scope: 'dns:write',
      responses: { 200: { description: 'The new serial', schema: ImportResult } },
      problems: [404],
    }),
    requireScope('dns:write'),
    validate('param', ZoneParam),
    validate('json', PatchZoneRequest),
    async function patchZoneRoute(c) {
      return c.json(
        await patchZone(c.env, tenantOf(c), c.req.valid('param').zone, c.req.valid('json').rrsets),
      )
    },
  )
  .get(
    '/zones/:zone/rrsets',
    describe({
      tags,
      summary: "List a zone's RRsets",
      description: 'Ordered by name and type; `name` and `type` filter exactly.',
      scope: 'dns:read',
      responses: { 200: { description: 'A page of RRsets', schema: RRsetList } },
      problems: [404],
    }),
    requireScope('dns:read'),
    validate('param', ZoneParam),
    validate('query', RRsetQuery),
    async function listRRsetsRoute(c) {
      const stub = await ownedZone(c.env, tenantOf(c), c.req.valid('param').zone)
      const { name, type, limit, cursor } = c.req.valid('query')
      const page = await stub.listRRsets({
        limit,
        ...(name !== undefined ? { name } : {}),
        ...(type !== undefined ? { type } : {}),
        ...(cursor !== undefined ? { after: decodeCursor(cursor) } : {}),
      })
      return c.json({
        items: page.items,
        ...(page.nextKey ? { nextCursor: encodeCursor(page.nextKey) } : {}),
      })
    },
  )
  .get(
    '/zones/:zone/export',
    describe({
      tags,
      summary: 'The zone as an RFC 1035 master file',
      description:
        '`dnssec=true` exports the signed zone as a pre-signed file (DNSKEY, an RRSIG over every ' +
        'authoritative RRset, a full NSEC chain) that offline validators such as `ldns-verify-zone` ' +
        'check; 409 when the zone is not signed. Live answers keep compact denial.',
      scope: 'dns:read',
      responses: { 200: { description: 'The zone file', mediaType: 'text/dns' } },
      problems: [404, 409],
    }),
    requireScope('dns:read'),
    validate('param', ZoneParam),
    validate('query', ExportQuery),
    async function exportZoneRoute(c) {
      const stub = await ownedZone(c.env, tenantOf(c), c.req.valid('param').zone)
      const { dnssec } = c.req.valid('query')
      const text = await stub.exportZone(dnssec === 'true' || dnssec === '1')
      return c.body(text, 200, { 'content-type': 'text/dns; charset=utf-8' })
    },
  )
  .put(
    '/zones/:zone/import',
    describe({
      tags,
      summary: 'Load a master file (BIND format)',
      description:
        'The body is the zone file (`text/dns` or `text/plain`, at most 1 MiB). `mode=replace` makes the file the ' +
        "whole zone; `merge` replaces only the RRsets it names. The SOA serial is the platform's, bumped. " +
        'DNSSEC records in the file (RRSIG, NSEC, NSEC3, DNSKEY) are dropped: the platform signs itself.',
      scope: 'dns:write',
      responses: { 200: { description: 'The new serial and RRset count', schema: ImportResult } },
      problems: [404, 413, 415],
    }),
    requireScope('dns:write'),
    validate('param', ZoneParam),
    validate('query', ImportQuery),
    async function importZoneRoute(c) {
      const type = c.req.header('content-type') ?? ''
      if (!/^text\/(dns|plain)\b/.test(type))
        throw new AppError('unsupported_media_type', 'Send the zone file as text/dns or text/plain.')
      const text = await c.req.text()
      if (new TextEncoder().encode(text).length > DNS_LIMITS.maxZoneFileBytes)
        throw new AppError('payload_too_large', 'A zone file is at most 1 MiB.')
      const stub = await ownedZone(c.env, tenantOf(c), c.req.valid('param').zone)
      return c.json(await stub.importZone(text, c.req.valid('query').mode))
    },
  )
  .put(
    '/zones/:zone/dnssec',
    describe({
      tags,
      summary: 'Turn online DNSSEC signing on or off',
      description: 'On: a new ECDSA P-256 key; the response carries the DS record to publish at the parent.',
      scope: 'dns:write',
      responses: { 200: { description: 'The zone', schema: ZoneView } },
      problems: [404],
    }),
    requireScope('dns:write'),
    validate('param', ZoneParam),
    validate('json', DnssecRequest),
    async function dnssecRoute(c) {
      const stub = await ownedZone(c.env, tenantOf(c), c.req.valid('param').zone)
      return c.json(await stub.setDnssec(c.req.valid('json').enabled))
    },
  )
  .post(
    '/zones/:zone/health-checks',
    describe({
      tags,
      summary: 'Run the failover health checks now',
      description: 'The zone object also runs them on its alarm, every `intervalSeconds`.',
      scope: 'dns:write',
      responses: { 200: { description: 'Each checked record and its result' } },
      problems: [404],
    }),
    requireScope('dns:write'),
    validate('param', ZoneParam),
    async function healthChecksRoute(c) {
      const stub = await ownedZone(c.env, tenantOf(c), c.req.valid('param').zone)
      return c.json({ results: await stub.runHealthChecks(true) })
    },
  )

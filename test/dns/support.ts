/**
 * Helpers for the DNS tests inside workerd: a tenant with a token and its zones, RRset
 * changes through the API, and queries over DoH built and read with `dns-packet` (an
 * independent codec, so the platform's own is checked against another implementation).
 */
import { SELF } from 'cloudflare:test'
import dnsPacket from 'dns-packet'
import { expect } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'

export interface QueryOptions {
  rd?: boolean
  dnssec?: boolean
  id?: number
  cf?: Record<string, unknown>
  ecs?: string
}

export type Packet = dnsPacket.Packet & {
  rcode?: string
  flag_aa?: boolean
  flag_tc?: boolean
  flag_ra?: boolean
}

/** A zone name nobody else in the file uses. */
export function uniqueZone(prefix = 'z'): string {
  return `${prefix}-${crypto.randomUUID().slice(0, 8)}.test`
}

export function encodeQuery(name: string, type: string, options: QueryOptions = {}): Uint8Array {
  const additionals: dnsPacket.Answer[] = []
  if (options.dnssec !== undefined || options.ecs) {
    const [address = '', prefix = '24'] = (options.ecs ?? '').split('/')
    additionals.push({
      type: 'OPT',
      name: '.',
      udpPayloadSize: 1232,
      flags: options.dnssec ? dnsPacket.DNSSEC_OK : 0,
      options: options.ecs
        ? [{ code: 'CLIENT_SUBNET', ip: address, sourcePrefixLength: Number(prefix), scopePrefixLength: 0 }]
        : [],
    } as unknown as dnsPacket.Answer)
  }
  return new Uint8Array(
    dnsPacket.encode({
      type: 'query',
      id: options.id ?? 4242,
      flags: options.rd === false ? 0 : dnsPacket.RECURSION_DESIRED,
      questions: [{ type: type as dnsPacket.RecordType, name }],
      additionals,
    }),
  )
}

/** POSTs a query to /dns-query and decodes the answer. */
export async function query(name: string, type: string, options: QueryOptions = {}): Promise<Packet> {
  const response = await SELF.fetch('http://edge.test/dns-query', {
    method: 'POST',
    headers: { 'content-type': 'application/dns-message' },
    body: encodeQuery(name, type, options),
    ...(options.cf ? { cf: options.cf } : {}),
  } as RequestInit)
  expect(response.status).toBe(200)
  return dnsPacket.decode(Buffer.from(await response.arrayBuffer())) as Packet
}

export interface DnsTenant {
  tenant: string
  token: string
  createZone(zone: string, body?: Record<string, unknown>): Promise<Record<string, unknown>>
  patch(
    zone: string,
    rrsets: Array<Record<string, unknown>>,
  ): Promise<{ status: number; body: Record<string, unknown> }>
  replace(zone: string, name: string, type: string, contents: string[], ttl?: number): Promise<void>
}

export async function dnsTenant(): Promise<DnsTenant> {
  const tenant = uniqueTenant('dns')
  const token = await tokenFor(tenant, ['dns:read', 'dns:write'])
  const client: DnsTenant = {
    tenant,
    token,
    async createZone(zone, body = {}) {
      const response = await call(`/v1/dns/zones/${zone}`, { method: 'PUT', token, body })
      expect(response.status, JSON.stringify(response.body)).toBe(201)
      return response.body
    },
    async patch(zone, rrsets) {
      return call(`/v1/dns/zones/${zone}`, { method: 'PATCH', token, body: { rrsets } })
    },
    async replace(zone, name, type, contents, ttl = 300) {
      const response = await client.patch(zone, [
        { name, type, ttl, changetype: 'REPLACE', records: contents.map((content) => ({ content })) },
      ])
      expect(response.status, JSON.stringify(response.body)).toBe(200)
    },
  }
  return client
}

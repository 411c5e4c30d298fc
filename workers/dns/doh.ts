/**
 * The public query endpoints, no token: DNS-over-HTTPS (RFC 8484) at `/dns-query`
 * (`GET ?dns=<base64url>` and `POST` with `application/dns-message`) and the JSON API of the
 * public resolvers at `/resolve?name=&type=`. DNS-level failures are 200 with their RCODE;
 * only malformed HTTP (no or bad `dns` parameter, wrong media type, a body over 65,535
 * bytes) is an HTTP error. `Cache-Control: max-age` is the smallest TTL in the response.
 * The gateway limits both per client address (app.ts).
 */
import { Hono } from 'hono'
import { DNS_LIMITS, DnsJson, ResolveQuery } from '../../schemas/dns'
import type { AuthEnv } from '../platform/auth/middleware'
import { base64urlToBytes } from '../platform/encoding'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { describe } from '../platform/openapi'
import { validate } from '../platform/validation'
import { closestZone, hostedZones, zoneStub } from './manage'
import { toAsciiName } from './records'
import { Resolver } from './resolver'
import { type ClientInfo, respond, respondToBytes, type ServerPorts } from './server'
import { FORWARDED_HEADER, forwardUpstream } from './upstream'
import { emptyMessage, encodeMessage, type Message, type ResourceRecord } from './wire/message'
import { formatRdata } from './wire/rdata'
import { CLASS_IN, typeCode } from './wire/types'

export const DNS_MESSAGE = 'application/dns-message'

/** The isolate's resolver and its cache. */
export const resolver = new Resolver()

/** The ports of the query server; a request already forwarded by an instance is not forwarded again. */
export function serverPorts(env: Env, request?: Request): ServerPorts {
  const forwarded = request?.headers.has(FORWARDED_HEADER) ?? false
  return {
    async hostedZones(names) {
      return new Set((await hostedZones(env, names)).keys())
    },
    async closestZone(name) {
      return (await closestZone(env, name))?.zone
    },
    queryZone: (zone, question, options) => zoneStub(env, zone).query(question, options),
    async forward(question, dnssecOk) {
      if (forwarded) throw new Error('Not forwarding a query another instance forwarded')
      return forwardUpstream(env, question, dnssecOk)
    },
  }
}

/** The client's location from the edge's request metadata (`request.cf`). */
export function clientInfo(request: Request): ClientInfo {
  const cf = (request as { cf?: Record<string, unknown> }).cf
  const info: ClientInfo = {}
  if (typeof cf?.country === 'string') info.country = cf.country.toUpperCase()
  const latitude = Number(cf?.latitude)
  const longitude = Number(cf?.longitude)
  if (cf?.latitude !== undefined && Number.isFinite(latitude) && Number.isFinite(longitude)) {
    info.latitude = latitude
    info.longitude = longitude
  }
  return info
}

/** The smallest TTL of the records in a response; undefined when it has none. */
export function smallestTtl(message: Message): number | undefined {
  const records = [...message.answers, ...message.authorities]
  return records.length === 0 ? undefined : Math.min(...records.map((record) => record.ttl))
}

function cacheControl(message: Message): string {
  const ttl = smallestTtl(message)
  return ttl === undefined ? 'no-store' : `max-age=${ttl}`
}

function wireResponse(message: Message): Response {
  return new Response(encodeMessage(message), {
    headers: { 'content-type': DNS_MESSAGE, 'cache-control': cacheControl(message) },
  })
}

function jsonRecord(record: ResourceRecord) {
  return {
    name: `${record.name}.`,
    type: record.type,
    TTL: record.ttl,
    data: formatRdata(record.type, record.data),
  }
}

/** One DoH query's bytes (≤ 65,535, else 413) to the wire response. */
async function answerQuery(env: Env, request: Request, bytes: Uint8Array): Promise<Response> {
  if (bytes.length > DNS_LIMITS.maxMessageBytes)
    throw new AppError('payload_too_large', 'A DNS message is at most 65535 bytes.')
  const message = await respondToBytes(
    bytes,
    serverPorts(env, request),
    resolver,
    clientInfo(request),
    Date.now(),
  )
  return wireResponse(message)
}

export const dohRoutes = new Hono<AuthEnv>()
  .get(
    '/dns-query',
    describe({
      wire: 'dns',
      tags: ['dns'],
      summary: 'DNS-over-HTTPS query (RFC 8484, GET)',
      description:
        '`dns` is the query message in unpadded base64url. RD set resolves; RD clear answers authoritatively.',
      responses: { 200: { description: 'The DNS response', mediaType: DNS_MESSAGE } },
    }),
    async function dohGet(c) {
      const param = c.req.query('dns')
      const bytes = param === undefined ? undefined : base64urlToBytes(param)
      if (!bytes || bytes.length === 0) {
        throw new AppError('bad_request', 'The "dns" query parameter must hold a DNS message in base64url.')
      }
      return answerQuery(c.env, c.req.raw, bytes)
    },
  )
  .post(
    '/dns-query',
    describe({
      wire: 'dns',
      tags: ['dns'],
      summary: 'DNS-over-HTTPS query (RFC 8484, POST)',
      description: 'The body is the query message, `application/dns-message`, at most 65,535 bytes.',
      responses: { 200: { description: 'The DNS response', mediaType: DNS_MESSAGE } },
      problems: [413, 415],
    }),
    async function dohPost(c) {
      if ((c.req.header('content-type') ?? '').split(';')[0]?.trim().toLowerCase() !== DNS_MESSAGE) {
        throw new AppError('unsupported_media_type', `Send the query as ${DNS_MESSAGE}.`)
      }
      const bytes = new Uint8Array(await c.req.arrayBuffer())
      return answerQuery(c.env, c.req.raw, bytes)
    },
  )
  .get(
    '/resolve',
    describe({
      wire: 'dns',
      tags: ['dns'],
      summary: 'DNS JSON API (as the public resolvers serve it)',
      description: '`name`, `type` (mnemonic or number, default A), `do=1` for DNSSEC records, `cd=1`.',
      responses: { 200: { description: 'The answer', schema: DnsJson, mediaType: 'application/dns-json' } },
    }),
    validate('query', ResolveQuery),
    async function resolveJson(c) {
      const { name, type, do: dnssec, cd } = c.req.valid('query')
      const code = /^\d+$/.test(type) ? Number(type) : typeCode(type)
      if (code === undefined || code > 65535)
        throw new AppError('bad_request', `"${type}" is not a record type.`)
      const query = emptyMessage(0)
      query.rd = true
      query.cd = cd === '1' || cd === 'true'
      const ascii = toAsciiName(name.replace(/\.$/, ''))
      if (ascii === undefined) throw new AppError('bad_request', `"${name}" is not a domain name.`)
      query.questions = [{ name: ascii, type: code, class: CLASS_IN }]
      const dnssecOk = dnssec === '1' || dnssec === 'true'
      query.edns = { udpSize: 4096, version: 0, dnssecOk, options: [] }
      let response: Message
      try {
        response = await respond(
          query,
          serverPorts(c.env, c.req.raw),
          resolver,
          clientInfo(c.req.raw),
          Date.now(),
        )
      } catch (error) {
        if (error instanceof AppError) throw error
        throw new AppError('bad_request', `"${name}" is not a domain name.`)
      }
      const ede = response.edns?.options.find((option) => option.code === 15)
      const body = {
        Status: response.rcode,
        TC: response.tc,
        RD: response.rd,
        RA: response.ra,
        AD: response.ad,
        CD: response.cd,
        Question: response.questions.map((q) => ({ name: `${q.name}.`, type: q.type })),
        ...(response.answers.length > 0 ? { Answer: response.answers.map(jsonRecord) } : {}),
        ...(response.authorities.length > 0 ? { Authority: response.authorities.map(jsonRecord) } : {}),
        ...(ede ? { Comment: new TextDecoder().decode(ede.data.subarray(2)) } : {}),
      }
      return c.body(JSON.stringify(body), 200, {
        'content-type': 'application/dns-json',
        'cache-control': cacheControl(response),
      })
    },
  )

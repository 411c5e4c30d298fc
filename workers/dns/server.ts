/**
 * One DNS query in, one response out: the message-level rules around the answer.
 *
 * - Malformed bytes → FORMERR (with the query id when two bytes exist); never a throw.
 * - Header checks: a response sent as a query, not exactly one question → FORMERR; an
 *   opcode other than QUERY, zone transfers (AXFR/IXFR) → NOTIMP; a class other than IN →
 *   REFUSED; EDNS version above 0 → BADVERS (RFC 6891 §6.1.3).
 * - RD set: resolution (RA set, never AA); RD clear: the authoritative answer of the
 *   closest hosted zone (REFUSED with EDE "Not Authoritative" when there is none).
 * - The question is echoed as sent (0x20 case kept); EDNS is answered when asked, with the
 *   client's UDP payload size echoed, the DO bit, EDNS Client Subnet echoed with its source
 *   prefix as scope, and an Extended DNS Error when one explains a failure.
 */
import type { Answer } from './answer'
import type { QueryOptions } from './object'
import type { Resolution, Resolver, ResolverPorts } from './resolver'
import { decodeMessage, type EdnsOption, emptyMessage, type Message, type Question } from './wire/message'
import { CLASS_IN, EDE, EDNS_OPTION, RCODE } from './wire/types'

export interface ServerPorts {
  /** Which of these names are hosted zones (lowercase). */
  hostedZones(names: string[]): Promise<Set<string>>
  /** The deepest hosted zone containing the name. */
  closestZone(name: string): Promise<string | undefined>
  queryZone(zone: string, question: Question, options: QueryOptions): Promise<Answer>
  /** Asks the upstream servers (failing over between them); throws when none answers. */
  forward(question: Question, dnssecOk: boolean): Promise<Message>
}

export interface ClientInfo {
  country?: string
  latitude?: number
  longitude?: number
}

const ZONE_TRANSFERS = new Set([251, 252])

export function formErr(bytes: Uint8Array): Message {
  const message = emptyMessage(bytes.length >= 2 ? ((bytes[0] as number) << 8) | (bytes[1] as number) : 0)
  message.qr = true
  message.rcode = RCODE.FORMERR
  return message
}

function edeOption(code: number, text: string): EdnsOption {
  const utf8 = new TextEncoder().encode(text)
  const data = new Uint8Array(2 + utf8.length)
  data[0] = code >> 8
  data[1] = code & 0xff
  data.set(utf8, 2)
  return { code: EDNS_OPTION.EXTENDED_ERROR, data }
}

/** EDNS Client Subnet (RFC 7871 §6): family, source prefix, scope prefix, address bytes. */
export function clientSubnet(
  options: EdnsOption[],
): (QueryOptions['subnet'] & { prefix: number }) | undefined {
  const option = options.find((each) => each.code === EDNS_OPTION.CLIENT_SUBNET)
  if (!option || option.data.length < 4) return undefined
  const family = ((option.data[0] as number) << 8) | (option.data[1] as number)
  if (family !== 1 && family !== 2) return undefined
  const address = new Uint8Array(family === 1 ? 4 : 16)
  address.set(option.data.subarray(4, 4 + address.length))
  return { family, address, prefix: option.data[2] as number }
}

/**
 * The resolver cache's partition for a client: everything a routing policy may answer by
 * (the DO bit, the country, the coordinates, the EDNS Client Subnet as sent, which is
 * also the scope echoed), so one client's steered answer is never served to another.
 */
export function cacheScope(
  dnssecOk: boolean,
  client: ClientInfo,
  subnet?: { family: number; address: Uint8Array; prefix: number },
): string {
  const where = client.latitude !== undefined ? `${client.latitude},${client.longitude}` : ''
  const net = subnet ? `${subnet.family}/${subnet.prefix}/${subnet.address.join('.')}` : ''
  return `${dnssecOk ? 'do' : ''}|${client.country ?? ''}|${where}|${net}`
}

/** Decodes and answers; any malformed input is FORMERR. */
export async function respondToBytes(
  bytes: Uint8Array,
  ports: ServerPorts,
  resolver: Resolver,
  client: ClientInfo,
  now: number,
): Promise<Message> {
  let query: Message
  try {
    query = decodeMessage(bytes)
  } catch {
    // WireError, or anything else the bytes provoked: the query cannot be understood.
    return formErr(bytes)
  }
  return respond(query, ports, resolver, client, now)
}

export async function respond(
  query: Message,
  ports: ServerPorts,
  resolver: Resolver,
  client: ClientInfo,
  now: number,
): Promise<Message> {
  const response = emptyMessage(query.id)
  response.qr = true
  response.opcode = query.opcode
  response.rd = query.rd
  response.cd = query.cd
  response.questions = query.questions
  const subnet = query.edns ? clientSubnet(query.edns.options) : undefined
  if (query.edns) {
    const options: EdnsOption[] = []
    if (subnet) {
      const echoed = query.edns.options.find((o) => o.code === EDNS_OPTION.CLIENT_SUBNET) as EdnsOption
      const data = echoed.data.slice()
      data[3] = subnet.prefix
      options.push({ code: EDNS_OPTION.CLIENT_SUBNET, data })
    }
    response.edns = {
      udpSize: Math.max(512, query.edns.udpSize),
      version: 0,
      dnssecOk: query.edns.dnssecOk,
      options,
    }
    if (query.edns.version > 0) return withRcode(response, RCODE.BADVERS)
  }
  if (query.qr || query.questions.length !== 1) return withRcode(response, RCODE.FORMERR)
  if (query.opcode !== 0) return withRcode(response, RCODE.NOTIMP)
  const question = query.questions[0] as Question
  if (question.class !== CLASS_IN) return withRcode(response, RCODE.REFUSED)
  if (ZONE_TRANSFERS.has(question.type)) return withRcode(response, RCODE.NOTIMP)

  const dnssecOk = query.edns?.dnssecOk ?? false
  const options: QueryOptions = {
    dnssecOk,
    ...client,
    ...(subnet ? { subnet: { family: subnet.family, address: subnet.address } } : {}),
  }
  const resolverPorts: ResolverPorts = {
    hostedZones: (names) => ports.hostedZones(names),
    queryZone: (zone, q) => ports.queryZone(zone, q, options),
    forward: (q) => ports.forward(q, dnssecOk),
  }
  if (query.rd) {
    response.ra = true
    const scope = cacheScope(dnssecOk, client, subnet)
    const resolution: Resolution = await resolver.resolve(question, resolverPorts, now, scope)
    response.rcode = resolution.rcode
    response.answers = resolution.answers
    response.authorities = resolution.authorities
    if (resolution.ede) addEde(response, resolution.ede.code, resolution.ede.text)
    return response
  }
  const zone = await ports.closestZone(question.name)
  if (zone === undefined) {
    addEde(response, EDE.NOT_AUTHORITATIVE, 'No hosted zone contains this name')
    return withRcode(response, RCODE.REFUSED)
  }
  const answer = await ports.queryZone(zone, question, options)
  response.aa = answer.aa
  response.rcode = answer.rcode
  response.answers = answer.answers
  response.authorities = answer.authorities
  response.additionals = answer.additionals
  return response
}

function withRcode(message: Message, rcode: number): Message {
  message.rcode = rcode
  return message
}

function addEde(message: Message, code: number, text: string): void {
  message.edns?.options.push(edeOption(code, text))
}

/**
 * Hostname routing at the edge: a request whose `Host` is not one of the platform's own
 * hostnames is served by the DNS records of the hosted zone it belongs to, resolved
 * through the platform's own resolver (walking the delegations, cached by TTL in the
 * isolate):
 * - a CNAME to `<name>.<kind>.edgeblocks.internal.` → the block whose `hostTarget.kind` is
 *   `<kind>` serves it, for the zone owner's resource `<name>`;
 * - a URI record (RFC 7553) at the host → the request goes to that URL (path appended);
 * - A / AAAA records → the request goes to that address over plain HTTP, port 80.
 * A host in no hosted zone is 404; a hosted name without a usable record is 404 too, and a
 * CNAME to an internal kind no block serves is 502.
 *
 * Cost for the platform's own hostnames: a scan of the URL's host and a set lookup, nothing else.
 */
import type { Context, MiddlewareHandler } from 'hono'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import type { HostTarget } from '../platform/host-target'
import { clientInfo, resolver, serverPorts } from './doh'
import { closestZone } from './manage'
import { INTERNAL_DOMAIN, type ResolverPorts } from './resolver'
import { cacheScope } from './server'
import { dnsSettings } from './settings'
import type { ResourceRecord } from './wire/message'
import { lowerName } from './wire/names'
import { formatRdata, rdataTarget } from './wire/rdata'
import { CLASS_IN, RCODE, TYPE } from './wire/types'

export const INTERNAL_SUFFIX = `.${INTERNAL_DOMAIN}`

/** The request URL's host without its port, lowercase; `[::1]` keeps its brackets. */
export function hostOf(url: string): string {
  const start = url.indexOf('//') + 2
  let end = start
  while (end < url.length && !'/?#'.includes(url[end] as string)) end++
  const host = url.slice(start, end).toLowerCase()
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1)
  const colon = host.lastIndexOf(':')
  return colon < 0 ? host : host.slice(0, colon)
}

export function isPlatformHost(env: Env, host: string): boolean {
  const settings = dnsSettings(env)
  if (settings.platformHosts.has(host) || host === '') return true
  return settings.platformSuffixes.some((suffix) => host.endsWith(suffix))
}

/** Where a host's records send its traffic. */
export type HostRoute =
  | { kind: 'block'; block: string; name: string }
  | { kind: 'url'; url: string }
  | { kind: 'address'; address: string }
  | { kind: 'none' }

/** The route the answers for a host describe (CNAME to internal first, then URI, then addresses). */
export function routeFromRecords(addressAnswers: ResourceRecord[], uriAnswers: ResourceRecord[]): HostRoute {
  for (const record of addressAnswers) {
    if (record.type !== TYPE.CNAME) continue
    const target = lowerName(rdataTarget(TYPE.CNAME, record.data) ?? '')
    if (!target.endsWith(INTERNAL_SUFFIX)) continue
    const labels = target.slice(0, -INTERNAL_SUFFIX.length).split('.')
    const block = labels.pop()
    if (block && labels.length > 0) return { kind: 'block', block, name: labels.join('.') }
  }
  const uri = uriAnswers.find((record) => record.type === TYPE.URI)
  if (uri) {
    const text = formatRdata(TYPE.URI, uri.data)
    const url = /"(.*)"$/.exec(text)?.[1]
    if (url && URL.canParse(url)) return { kind: 'url', url }
  }
  const address = addressAnswers.find((record) => record.type === TYPE.A || record.type === TYPE.AAAA)
  if (address) {
    const text = formatRdata(address.type, address.data)
    return { kind: 'address', address: address.type === TYPE.AAAA ? `[${text}]` : text }
  }
  return { kind: 'none' }
}

async function resolveRecords(
  ports: ResolverPorts,
  host: string,
  type: number,
  scope: string,
): Promise<ResourceRecord[]> {
  const resolution = await resolver.resolve({ name: host, type, class: CLASS_IN }, ports, Date.now(), scope)
  if (resolution.rcode === RCODE.SERVFAIL) {
    throw new AppError(
      'bad_gateway',
      `The records of ${host} cannot be resolved: ${resolution.ede?.text ?? 'SERVFAIL'}.`,
    )
  }
  return resolution.answers
}

function forwardTo(request: Request, target: URL, host: string): Promise<Response> {
  const headers = new Headers(request.headers)
  headers.set('x-forwarded-host', host)
  return fetch(target, {
    method: request.method,
    headers,
    body: request.body,
    redirect: 'manual',
  })
}

export function hostnameRouting(targets: () => HostTarget[]): MiddlewareHandler<{ Bindings: Env }> {
  return async function hostnameRoutingMiddleware(c: Context<{ Bindings: Env }>, next) {
    const host = hostOf(c.req.url)
    if (isPlatformHost(c.env, host)) return next()
    const zone = await closestZone(c.env, host)
    if (!zone) throw new AppError('not_found', `The host ${host} is not served here.`)
    const server = serverPorts(c.env)
    const client = clientInfo(c.req.raw)
    const options = { dnssecOk: false, ...client }
    const scope = `host${cacheScope(false, client)}`
    const ports: ResolverPorts = {
      hostedZones: server.hostedZones,
      queryZone: (name, question) => server.queryZone(name, question, options),
      forward: (question) => server.forward(question, false),
    }
    const addresses = await resolveRecords(ports, host, TYPE.A, scope)
    const route = routeFromRecords(
      addresses,
      addresses.some((r) => r.type === TYPE.CNAME) ? [] : await resolveRecords(ports, host, TYPE.URI, scope),
    )
    const url = new URL(c.req.url)
    switch (route.kind) {
      case 'block': {
        const target = targets().find((each) => each.kind === route.block)
        if (!target)
          throw new AppError('bad_gateway', `No block serves "${route.block}" targets (CNAME of ${host}).`)
        return target.serve(c.req.raw, c.env, c.executionCtx as ExecutionContext, {
          tenant: zone.owner,
          name: route.name,
        })
      }
      case 'url': {
        const base = new URL(route.url)
        const target = new URL(`${base.pathname.replace(/\/$/, '')}${url.pathname}${url.search}`, base)
        return forwardTo(c.req.raw, target, host)
      }
      case 'address':
        return forwardTo(c.req.raw, new URL(`http://${route.address}${url.pathname}${url.search}`), host)
      case 'none':
        throw new AppError('not_found', `The host ${host} has no A, AAAA, URI or internal CNAME record.`)
    }
  }
}

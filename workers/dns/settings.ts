/**
 * The DNS block's settings, read once per env object and validated (a bad value fails
 * loudly at the first request):
 * - `DNS_UPSTREAMS`: DoH URLs tried in order for names outside the hosted tree
 *   (comma-separated; empty turns forwarding off);
 * - `DNS_NAMESERVERS`: the NS names every new zone starts with (the first is the SOA MNAME);
 * - `PLATFORM_HOSTNAMES`: the platform's own hostnames (`*.` matches any subdomain); a
 *   request for any other Host is routed by the DNS records of the zone it belongs to.
 */
import * as v from 'valibot'
import type { Env } from '../platform/env'
import { normalizeName } from './records'

declare global {
  namespace Cloudflare {
    interface Env {
      DNS_UPSTREAMS?: string
      DNS_NAMESERVERS?: string
      PLATFORM_HOSTNAMES?: string
    }
  }
}

export interface DnsSettings {
  upstreams: string[]
  nameservers: string[]
  /** Exact platform hostnames, lowercase. */
  platformHosts: ReadonlySet<string>
  /** Suffixes (with the leading dot) whose subdomains are platform hostnames. */
  platformSuffixes: string[]
}

const list = (fallback: string) =>
  v.pipe(
    v.optional(v.string(), fallback),
    v.transform((text) =>
      text
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item.length > 0),
    ),
  )

const SETTINGS = v.object({
  DNS_UPSTREAMS: v.pipe(
    list('https://cloudflare-dns.com/dns-query,https://dns.google/dns-query'),
    v.check(
      (urls) => urls.every((url) => URL.canParse(url)),
      'DNS_UPSTREAMS: a comma-separated list of URLs',
    ),
    v.maxLength(8, 'DNS_UPSTREAMS: at most 8 upstreams'),
  ),
  DNS_NAMESERVERS: v.pipe(
    list('ns1.edgeblocks.internal,ns2.edgeblocks.internal'),
    v.minLength(1, 'DNS_NAMESERVERS: at least one name server'),
  ),
  PLATFORM_HOSTNAMES: list('127.0.0.1,localhost,[::1],edge.test,*.workers.dev'),
})

const byEnv = new WeakMap<object, DnsSettings>()

export function dnsSettings(env: Env): DnsSettings {
  const cached = byEnv.get(env)
  if (cached) return cached
  const result = v.safeParse(SETTINGS, env)
  if (!result.success)
    throw new Error(`Invalid configuration: ${result.issues.map((i) => i.message).join('; ')}`)
  const hosts = result.output.PLATFORM_HOSTNAMES.map((host) => host.toLowerCase())
  const settings: DnsSettings = {
    upstreams: result.output.DNS_UPSTREAMS,
    nameservers: result.output.DNS_NAMESERVERS.map((ns) => normalizeName(ns, 'DNS_NAMESERVERS')),
    platformHosts: new Set(hosts.filter((host) => !host.startsWith('*.'))),
    platformSuffixes: hosts.filter((host) => host.startsWith('*.')).map((host) => host.slice(1)),
  }
  byEnv.set(env, settings)
  return settings
}

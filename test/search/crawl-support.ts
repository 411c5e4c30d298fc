/** Helpers of the crawler's workerd tests: the local site's request log, the host frontier, a job driven by alarms. */
import { env, runDurableObjectAlarm, runInDurableObject } from 'cloudflare:test'
import { expect, inject } from 'vitest'
import { objectName } from '../../workers/platform/tenancy'
import { HOST_KIND } from '../../workers/search/crawl/host-object'
import { meili, type SearchResult, search, type Tenant } from './support'

export const site = inject('crawlSiteUrl')
export const host = new URL(site).host

export interface CrawlView {
  id: string
  status: string
  stats: Record<string, number>
  errors: Array<{ url: string; reason: string }>
}

export async function siteLog(since = 0) {
  const response = await fetch(`${site}/__log?since=${since}`)
  return (await response.json()) as {
    last: number
    requests: Array<{ path: string; agent: string; conditional: string | null; inFlight: number }>
  }
}

export function hostObject(who: Tenant) {
  return env.SEARCH_CRAWL_HOSTS.get(
    env.SEARCH_CRAWL_HOSTS.idFromName(objectName(who.tenant, HOST_KIND, host)),
  )
}

export async function startCrawl(who: Tenant, body: Record<string, unknown>) {
  const created = await meili<CrawlView>(who, '/crawls', { body })
  expect(created.status, JSON.stringify(created.body)).toBe(201)
  return created.body
}

/** Fires the host's alarms until `until` holds for the job (bounded). */
export async function drive(
  who: Tenant,
  id: string,
  until: (job: CrawlView) => boolean = (job) => job.status !== 'running',
) {
  const stub = hostObject(who)
  for (let i = 0; i < 200; i++) {
    const job = (await meili<CrawlView>(who, `/crawls/${id}`)).body
    if (until(job)) return job
    await runDurableObjectAlarm(stub)
  }
  throw new Error('the crawl did not finish within 200 alarms')
}

export async function schedule(who: Tenant) {
  return runInDurableObject(hostObject(who), (instance) => instance.schedule())
}

export async function hits(who: Tenant, index: string, q: string) {
  const result = await search(who, index, { q, attributesToRetrieve: ['url', 'title'] })
  expect(result.status, JSON.stringify(result.body)).toBe(200)
  return (result.body as SearchResult).hits.map((hit) => hit.url)
}

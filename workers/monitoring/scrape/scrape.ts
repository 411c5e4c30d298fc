/**
 * One scrape as Prometheus does it: the target's text exposition parsed (exposition.ts),
 * every series labelled with the target's labels (`job`, `instance`, the job's labels); a
 * scraped label that collides with a target label is kept as `exported_<name>`
 * (`honor_labels: false`). Samples without a timestamp take the scrape's time. Every scrape,
 * failed or not, adds `up`, `scrape_duration_seconds` and `scrape_samples_scraped`.
 *
 * Guarantees: a body over the sample limit, or malformed, fails the whole scrape (up = 0,
 * nothing of it stored), as Prometheus's `sample_limit` does. Cost: O(body bytes).
 */
import type { ScrapeJobView } from '../../../schemas/monitoring-scrape'
import { parseExposition } from '../exposition'
import { type Labels, SampleError, type Series } from '../series'

/** A target URL's `instance`: host and port (the scheme's default port made explicit). */
export function instanceOf(url: string): string {
  const u = new URL(url)
  return `${u.hostname}:${u.port || (u.protocol === 'https:' ? '443' : '80')}`
}

export function targetLabels(job: string, url: string, labels: Labels): Labels {
  return { ...labels, job, instance: instanceOf(url) }
}

/** The series of a scraped body under the target's labels; throws `SampleError` when it cannot be stored. */
export function scrapedSeries(text: string, target: Labels, nowMs: number, sampleLimit: number): Series[] {
  const parsed = parseExposition(text, nowMs)
  const samples = parsed.reduce((n, s) => n + s.times.length, 0)
  if (samples > sampleLimit) throw new SampleError(`sample limit exceeded: ${samples} > ${sampleLimit}`)
  return parsed.map((s) => {
    const labels: Labels = {}
    for (const [name, value] of Object.entries(s.labels)) {
      if (name in target && name !== '__name__') labels[`exported_${name}`] = value
      else labels[name] = value
    }
    return { ...s, labels: { ...labels, ...target } }
  })
}

export interface ScrapeReport {
  up: boolean
  durationSeconds: number
  samples: number
}

/** `up`, `scrape_duration_seconds` and `scrape_samples_scraped` of one scrape. */
export function healthSeries(target: Labels, nowMs: number, report: ScrapeReport): Series[] {
  const one = (name: string, value: number): Series => ({
    labels: { ...target, __name__: name },
    times: [nowMs],
    values: [value],
  })
  return [
    one('up', report.up ? 1 : 0),
    one('scrape_duration_seconds', report.durationSeconds),
    one('scrape_samples_scraped', report.samples),
  ]
}

/** When a job scraped at `due` is due next: one interval later, never in the past. */
export function nextDue(due: number, intervalMs: number, nowMs: number): number {
  const next = due + intervalMs
  return next > nowMs ? next : nowMs + intervalMs
}

/** A duration in Prometheus's notation (`1m`, `90s`). */
function promDuration(seconds: number): string {
  return seconds % 60 === 0 ? `${seconds / 60}m` : `${seconds}s`
}

/** The tenant's scrape targets in the shape of Prometheus's `/api/v1/targets` (all active). */
export function prometheusTargets(jobs: ScrapeJobView[]) {
  return jobs.flatMap((job) =>
    job.targets.map((target) => {
      const url = new URL(target.url)
      return {
        discoveredLabels: {
          __address__: target.instance,
          __metrics_path__: url.pathname,
          __scheme__: url.protocol.slice(0, -1),
          job: job.name,
        },
        labels: targetLabels(job.name, target.url, job.labels),
        scrapePool: job.name,
        scrapeUrl: target.url,
        globalUrl: target.url,
        lastError: target.lastError ?? '',
        // Go's zero time before the first scrape, as Prometheus answers.
        lastScrape:
          target.lastScrape === null ? '0001-01-01T00:00:00Z' : new Date(target.lastScrape).toISOString(),
        lastScrapeDuration: target.lastDurationSeconds ?? 0,
        health: target.health,
        scrapeInterval: promDuration(job.intervalSeconds),
        scrapeTimeout: promDuration(job.timeoutSeconds),
      }
    }),
  )
}

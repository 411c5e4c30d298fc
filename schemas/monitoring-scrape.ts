/**
 * Schemas and bounds of the monitoring block's scrape jobs: the platform fetches each
 * target's text exposition on the job's interval (Durable Object alarms) and stores its
 * samples with `job`/`instance` labels plus `up`, `scrape_duration_seconds` and
 * `scrape_samples_scraped`.
 */
import * as v from 'valibot'
import { integer } from './common'

export const SCRAPE_LIMITS = {
  maxJobs: 20,
  maxTargets: 20,
  maxLabels: 20,
  /** Shortest and longest interval between two scrapes of a job. */
  minIntervalSeconds: 10,
  maxIntervalSeconds: 3600,
  maxTimeoutSeconds: 60,
  /** Largest response a scrape reads; a bigger one fails the scrape (up = 0). */
  maxBodyBytes: 10 * 1024 * 1024,
  /** Samples one scrape may return (Prometheus's sample_limit); more fails the scrape, storing none. */
  sampleLimit: 10_000,
} as const

const TargetUrl = v.pipe(
  v.string(),
  v.maxLength(2048),
  v.url('An absolute URL'),
  v.regex(/^https?:\/\//, 'An http or https URL'),
)

const TargetLabelName = v.pipe(
  v.string(),
  v.regex(/^[a-zA-Z][a-zA-Z0-9_]*$/, 'A Prometheus label name not starting with _'),
  v.check((name) => name !== 'job' && name !== 'instance', 'job and instance are set by the platform'),
)

export const ScrapeJobInput = v.pipe(
  v.strictObject({
    /** URLs serving the Prometheus text format 0.0.4 (e.g. `https://host/metrics`). */
    targets: v.pipe(
      v.array(TargetUrl),
      v.minLength(1, 'At least one target'),
      v.maxLength(SCRAPE_LIMITS.maxTargets, `At most ${SCRAPE_LIMITS.maxTargets} targets`),
    ),
    intervalSeconds: v.optional(
      integer(SCRAPE_LIMITS.minIntervalSeconds, SCRAPE_LIMITS.maxIntervalSeconds, 'intervalSeconds'),
      60,
    ),
    /** At most the interval. */
    timeoutSeconds: v.optional(integer(1, SCRAPE_LIMITS.maxTimeoutSeconds, 'timeoutSeconds'), 10),
    /** Labels added to every series of every target (besides `job` and `instance`). */
    labels: v.optional(
      v.pipe(
        v.record(TargetLabelName, v.pipe(v.string(), v.minLength(1), v.maxLength(1024))),
        v.check(
          (l) => Object.keys(l).length <= SCRAPE_LIMITS.maxLabels,
          `At most ${SCRAPE_LIMITS.maxLabels} labels`,
        ),
      ),
      {},
    ),
  }),
  v.check((j) => j.timeoutSeconds <= j.intervalSeconds, 'timeoutSeconds must not exceed intervalSeconds'),
)
export type ScrapeJobInput = v.InferOutput<typeof ScrapeJobInput>

export const ScrapeTargetView = v.object({
  url: v.string(),
  instance: v.string(),
  health: v.picklist(['up', 'down', 'unknown']),
  /** Milliseconds since the epoch of the last scrape, or null before the first. */
  lastScrape: v.nullable(v.number()),
  lastError: v.nullable(v.string()),
  lastDurationSeconds: v.nullable(v.number()),
  lastSamples: v.nullable(v.number()),
})

export const ScrapeJobView = v.object({
  name: v.string(),
  targets: v.array(ScrapeTargetView),
  intervalSeconds: v.number(),
  timeoutSeconds: v.number(),
  labels: v.record(v.string(), v.string()),
  /** When the next scrape is due (ms since the epoch). */
  nextScrapeAt: v.number(),
  updatedAt: v.number(),
})
export type ScrapeJobView = v.InferOutput<typeof ScrapeJobView>

/**
 * Schemas and bounds of the monitoring block's client-side errors: projects with DSN keys,
 * Sentry envelope ingest, issues (grouped events) and release files (source maps).
 */
import * as v from 'valibot'
import { integer, limitQuery, PageQuery, ResourceName } from './common'

export const ERRORS_LIMITS = {
  maxProjects: 100,
  maxKeysPerProject: 10,
  /** Largest envelope or store body (as sent, and after gzip). */
  maxEnvelopeBytes: 4 * 1024 * 1024,
  maxItemsPerEnvelope: 100,
  /** A stored event is truncated (never dropped) to fit this many bytes of JSON. */
  maxEventBytes: 64 * 1024,
  maxBreadcrumbs: 100,
  maxFramesPerStacktrace: 100,
  maxExceptions: 10,
  maxTags: 50,
  /** Characters kept of a message or exception value, and of any other string. */
  maxMessageChars: 8192,
  maxStringChars: 1024,
  /** Events a project accepts per minute unless configured otherwise. */
  defaultEventsPerMinute: 1000,
  maxEventsPerMinute: 1_000_000,
  /** Issues per project; events of further new groups are counted in one overflow issue. */
  maxIssuesPerProject: 10_000,
  /** Events kept per issue (the latest). */
  eventsPerIssue: 20,
  /** Largest release file (a source map), and files per release. */
  maxFileBytes: 8 * 1024 * 1024,
  maxFilesPerRelease: 100,
  /** A spike: a minute with at least this many events and 3× the last hour's mean per minute. */
  defaultSpikeMinEvents: 50,
} as const

export const ProjectParam = v.object({
  project: v.pipe(v.string(), v.regex(/^[1-9]\d{0,8}$/, 'A project id (a whole number)')),
})
export const IssueParam = v.object({
  ...ProjectParam.entries,
  issue: v.pipe(v.string(), v.regex(/^[1-9]\d{0,15}$/, 'An issue id (a whole number)')),
})
export const KeyParam = v.object({
  ...ProjectParam.entries,
  key: v.pipe(v.string(), v.regex(/^[0-9a-f]{32,512}$/, 'A DSN public key')),
})
const ReleaseName = v.pipe(
  v.string(),
  v.minLength(1),
  v.maxLength(200),
  v.regex(/^[^\s/\\]+$/, 'No whitespace or slashes'),
)
export const ReleaseParam = v.object({ ...ProjectParam.entries, release: ReleaseName })
/** `?name=~/static/app.min.js.map`: the file's URL path, `~` standing for any origin. */
export const ReleaseFileQuery = v.object({
  name: v.pipe(v.string(), v.minLength(2), v.maxLength(1024), v.regex(/^~?\//, 'Starts with "~/" or "/"')),
})

export const ProjectInput = v.strictObject({
  name: ResourceName,
  eventsPerMinute: v.optional(integer(1, ERRORS_LIMITS.maxEventsPerMinute, 'eventsPerMinute')),
  alerts: v.optional(
    v.strictObject({
      newIssues: v.optional(v.boolean()),
      spikeMinEvents: v.optional(integer(1, 1_000_000, 'spikeMinEvents')),
    }),
  ),
})
export type ProjectInput = v.InferOutput<typeof ProjectInput>
export const ProjectPatch = v.strictObject({
  ...v.partial(v.omit(ProjectInput, ['name'])).entries,
  name: v.optional(ResourceName),
})
export type ProjectPatch = v.InferOutput<typeof ProjectPatch>

export const KeyView = v.object({
  publicKey: v.string(),
  dsn: v.string(),
  createdAt: v.number(),
})
export const KeyInput = v.strictObject({})

export const ProjectView = v.object({
  id: v.string(),
  name: v.string(),
  eventsPerMinute: v.number(),
  alerts: v.object({ newIssues: v.boolean(), spikeMinEvents: v.number() }),
  createdAt: v.number(),
  stats: v.object({
    events: v.number(),
    transactions: v.number(),
    sessions: v.number(),
    truncated: v.number(),
    rateLimited: v.number(),
    issues: v.number(),
  }),
  keys: v.array(KeyView),
})

export const Frame = v.object({
  filename: v.string(),
  function: v.string(),
  lineno: v.nullable(v.number()),
  colno: v.nullable(v.number()),
  inApp: v.boolean(),
})

export const IssueStatus = v.picklist(['unresolved', 'resolved', 'ignored', 'regressed'])
export const IssueView = v.object({
  id: v.string(),
  title: v.string(),
  culprit: v.string(),
  level: v.string(),
  status: IssueStatus,
  count: v.number(),
  userCount: v.number(),
  firstSeen: v.string(),
  lastSeen: v.string(),
  firstRelease: v.nullable(v.string()),
  lastRelease: v.nullable(v.string()),
  stacktrace: v.array(Frame),
})
export const IssueList = v.object({ issues: v.array(IssueView), cursor: v.nullable(v.string()) })
export const IssueDetail = v.object({
  ...IssueView.entries,
  releases: v.array(v.object({ release: v.string(), firstSeen: v.string(), count: v.number() })),
  latestEvent: v.nullable(v.record(v.string(), v.unknown())),
})
export const IssuesQuery = v.object({
  limit: limitQuery(100, '25'),
  cursor: PageQuery.entries.cursor,
  status: v.optional(IssueStatus),
})
export const IssuePatch = v.strictObject({ status: v.picklist(['resolved', 'unresolved', 'ignored']) })

export const ReleaseFileView = v.object({ name: v.string(), size: v.number(), uploadedAt: v.number() })

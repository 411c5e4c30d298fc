/**
 * A Sentry event payload normalized to what the platform keeps: exceptions with their
 * stack frames, message, level, release, environment, tags, user, breadcrumbs, fingerprint,
 * and the rest of the contexts as given.
 *
 * Truncated, never dropped: strings are cut (messages at `maxMessageChars`, others at
 * `maxStringChars`), breadcrumbs keep the newest `maxBreadcrumbs`, stack traces keep their
 * outermost and innermost frames (the middle of a deep recursion goes), tags keep the first
 * `maxTags`; if the JSON is still over `maxEventBytes`, contexts, extra, request and then
 * breadcrumbs are removed. `truncated` says whether anything was cut.
 *
 * Pure. Cost: O(size of the payload).
 */

export interface EventLimits {
  maxEventBytes: number
  maxBreadcrumbs: number
  maxFramesPerStacktrace: number
  maxExceptions: number
  maxTags: number
  maxMessageChars: number
  maxStringChars: number
}

export interface StoredFrame {
  filename: string
  absPath: string
  function: string
  module: string
  lineno: number | null
  colno: number | null
  inApp: boolean
  contextLine?: string
}

export interface StoredException {
  type: string
  value: string
  frames: StoredFrame[]
}

export interface StoredEvent {
  eventId: string
  timestamp: number
  platform: string
  level: string
  message: string
  release: string | null
  environment: string | null
  transaction: string | null
  exceptions: StoredException[]
  fingerprint: string[] | null
  tags: Record<string, string>
  user: Record<string, string> | null
  breadcrumbs: Array<Record<string, unknown>>
  contexts: Record<string, unknown>
  extra: Record<string, unknown>
  request: Record<string, unknown> | null
  sdk: string | null
  truncated: boolean
}

type Json = Record<string, unknown>
const isObject = (x: unknown): x is Json => typeof x === 'object' && x !== null && !Array.isArray(x)

class Cutter {
  truncated = false
  constructor(readonly limits: EventLimits) {}
  str(x: unknown, max = this.limits.maxStringChars): string {
    const s = typeof x === 'string' ? x : x === undefined || x === null ? '' : String(x)
    if (s.length <= max) return s
    this.truncated = true
    return `${s.slice(0, max - 1)}…`
  }
  opt(x: unknown): string | null {
    return x === undefined || x === null || x === '' ? null : this.str(x, 200)
  }
  num(x: unknown): number | null {
    return typeof x === 'number' && Number.isFinite(x) ? x : null
  }
  /** Deep copy of JSON with every string cut and at most 50 keys / 50 items a level, 6 levels deep. */
  json(x: unknown, depth = 0): unknown {
    if (typeof x === 'string') return this.str(x)
    if (typeof x !== 'object' || x === null) return x
    if (depth >= 6) {
      this.truncated = true
      return '[truncated]'
    }
    const entries = Array.isArray(x) ? x.map((v, i) => [String(i), v] as const) : Object.entries(x)
    if (entries.length > 50) this.truncated = true
    const kept = entries.slice(0, 50).map(([k, v]) => [this.str(k, 200), this.json(v, depth + 1)] as const)
    return Array.isArray(x) ? kept.map(([, v]) => v) : Object.fromEntries(kept)
  }
}

function frames(c: Cutter, stacktrace: unknown): StoredFrame[] {
  const raw = isObject(stacktrace) && Array.isArray(stacktrace.frames) ? stacktrace.frames : []
  let list = raw.filter(isObject)
  const max = c.limits.maxFramesPerStacktrace
  if (list.length > max) {
    c.truncated = true
    list = [...list.slice(0, max / 2), ...list.slice(list.length - max / 2)]
  }
  return list.map((f) => {
    const absPath = c.str(f.abs_path ?? f.filename)
    const filename = c.str(f.filename ?? f.abs_path)
    const frame: StoredFrame = {
      filename,
      absPath,
      function: c.str(f.function ?? ''),
      module: c.str(f.module ?? ''),
      lineno: c.num(f.lineno),
      colno: c.num(f.colno),
      inApp:
        typeof f.in_app === 'boolean'
          ? f.in_app
          : !/node_modules|^<anonymous>$|^native$|^\[native code\]$/.test(absPath),
    }
    if (typeof f.context_line === 'string') frame.contextLine = c.str(f.context_line)
    return frame
  })
}

function exceptions(c: Cutter, event: Json): StoredException[] {
  const ex = event.exception
  const values = isObject(ex) && Array.isArray(ex.values) ? ex.values : Array.isArray(ex) ? ex : []
  let list = values.filter(isObject)
  if (list.length > c.limits.maxExceptions) {
    c.truncated = true
    list = list.slice(list.length - c.limits.maxExceptions)
  }
  const top = isObject(event.stacktrace) ? event.stacktrace : undefined
  const out = list.map((e) => ({
    type: c.str(e.type ?? 'Error', 256),
    value: c.str(e.value ?? '', c.limits.maxMessageChars),
    frames: frames(c, e.stacktrace),
  }))
  // A message event with a thread-less top-level stack trace.
  if (out.length === 0 && top) return [{ type: '', value: '', frames: frames(c, top) }]
  return out
}

function message(c: Cutter, event: Json): string {
  const m = event.logentry ?? event.message
  if (isObject(m)) return c.str(m.formatted ?? m.message ?? '', c.limits.maxMessageChars)
  return c.str(m ?? '', c.limits.maxMessageChars)
}

function timestamp(x: unknown, now: number): number {
  if (typeof x === 'number' && Number.isFinite(x)) return Math.round(x * 1000)
  if (typeof x === 'string') {
    const t = Date.parse(x)
    if (Number.isFinite(t)) return t
  }
  return now
}

export function normalizeEvent(payload: unknown, limits: EventLimits, now: number): StoredEvent {
  const e: Json = isObject(payload) ? payload : {}
  const c = new Cutter(limits)
  const tagEntries: Array<[string, unknown]> = Array.isArray(e.tags)
    ? e.tags.filter((t): t is [string, unknown] => Array.isArray(t) && typeof t[0] === 'string')
    : isObject(e.tags)
      ? Object.entries(e.tags)
      : []
  if (tagEntries.length > limits.maxTags) c.truncated = true
  const tags = Object.fromEntries(
    tagEntries.slice(0, limits.maxTags).map(([k, v]) => [c.str(k, 200), c.str(v, 200)]),
  )
  const crumbs =
    isObject(e.breadcrumbs) && Array.isArray(e.breadcrumbs.values) ? e.breadcrumbs.values : e.breadcrumbs
  let breadcrumbs = (Array.isArray(crumbs) ? crumbs : []).filter(isObject)
  if (breadcrumbs.length > limits.maxBreadcrumbs) {
    c.truncated = true
    breadcrumbs = breadcrumbs.slice(breadcrumbs.length - limits.maxBreadcrumbs)
  }
  const user = isObject(e.user)
    ? Object.fromEntries(
        Object.entries(e.user)
          .filter(([, v]) => typeof v === 'string' || typeof v === 'number')
          .slice(0, 20)
          .map(([k, v]) => [c.str(k, 100), c.str(v, 200)]),
      )
    : null
  const event: StoredEvent = {
    eventId:
      typeof e.event_id === 'string' && /^[0-9a-f-]{32,36}$/i.test(e.event_id)
        ? e.event_id.replaceAll('-', '').toLowerCase()
        : crypto.randomUUID().replaceAll('-', ''),
    timestamp: timestamp(e.timestamp, now),
    platform: c.str(e.platform ?? 'other', 64),
    level: c.str(e.level ?? 'error', 16),
    message: message(c, e),
    release: c.opt(e.release),
    environment: c.opt(e.environment),
    transaction: c.opt(e.transaction),
    exceptions: exceptions(c, e),
    fingerprint:
      Array.isArray(e.fingerprint) && e.fingerprint.length > 0
        ? e.fingerprint.slice(0, 20).map((f) => c.str(f, 200))
        : null,
    tags,
    user: user && Object.keys(user).length > 0 ? user : null,
    breadcrumbs: breadcrumbs.map((b) => c.json(b) as Json),
    contexts: isObject(e.contexts) ? (c.json(e.contexts) as Json) : {},
    extra: isObject(e.extra) ? (c.json(e.extra) as Json) : {},
    request: isObject(e.request) ? (c.json(e.request) as Json) : null,
    sdk: isObject(e.sdk) ? c.opt(`${e.sdk.name ?? ''}/${e.sdk.version ?? ''}`) : null,
    truncated: false,
  }
  return fitEvent(event, limits.maxEventBytes, c.truncated)
}

const size = (e: StoredEvent) => new TextEncoder().encode(JSON.stringify(e)).length

/** Removes the least useful parts until the event's JSON fits `maxBytes`. */
export function fitEvent(event: StoredEvent, maxBytes: number, truncated: boolean): StoredEvent {
  let e = { ...event, truncated }
  if (size(e) <= maxBytes) return e
  e = { ...e, contexts: {}, extra: {}, request: null, truncated: true }
  while (size(e) > maxBytes && e.breadcrumbs.length > 0)
    e = { ...e, breadcrumbs: e.breadcrumbs.slice(Math.ceil(e.breadcrumbs.length / 2)) }
  while (size(e) > maxBytes && e.exceptions.some((x) => x.frames.length > 2))
    e = {
      ...e,
      exceptions: e.exceptions.map((x) => ({
        ...x,
        frames:
          x.frames.length > 2
            ? [...x.frames.slice(0, 1), ...x.frames.slice(-Math.floor(x.frames.length / 2))]
            : x.frames,
      })),
    }
  while (size(e) > maxBytes && (e.message.length > 256 || e.exceptions.some((x) => x.value.length > 256)))
    e = {
      ...e,
      message: e.message.slice(0, Math.max(256, e.message.length >> 1)),
      exceptions: e.exceptions.map((x) => ({
        ...x,
        value: x.value.slice(0, Math.max(256, x.value.length >> 1)),
      })),
    }
  if (size(e) > maxBytes) {
    const cut = (x: string) => x.slice(0, 200)
    e = {
      ...e,
      tags: {},
      exceptions: e.exceptions.slice(-2).map((x) => ({
        ...x,
        frames: x.frames.map((f) => ({
          ...f,
          filename: cut(f.filename),
          absPath: cut(f.absPath),
          function: cut(f.function),
          module: cut(f.module),
          contextLine: undefined,
        })),
      })),
    }
  }
  return e
}

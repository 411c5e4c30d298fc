/**
 * One event applied to its issue, and the issue views.
 *
 * `applyEvent`: a new group opens an `unresolved` issue; a known one counts the event and
 * moves `lastSeen`/`lastRelease`. A `resolved` issue that sees an event again regresses
 * (status `regressed`, which is unresolved) when the event's release was first seen in the
 * project after the issue was resolved, or when the event names no release; an event from
 * a release already known at resolution (an old client still running) is counted and the
 * issue stays resolved. `ignored` issues count silently.
 *
 * `isSpike`: a minute is a spike when it holds at least `minEvents` events and three times
 * the mean per minute of the hour before it.
 *
 * Pure. Cost: O(frames of the event).
 */
import type { StoredEvent, StoredFrame } from './event'
import type { Grouping } from './grouping'
import type { IssueRow } from './store'

export interface Applied {
  issue: Omit<IssueRow, 'id'> & { id?: number }
  isNew: boolean
  regressed: boolean
}

/** The frames an issue shows: its main (last) exception's, as Sentry orders them (crash last). */
export function issueFrames(event: StoredEvent): StoredFrame[] {
  return (event.exceptions.at(-1)?.frames ?? []).slice(-50).map((f) => ({
    filename: f.filename,
    absPath: f.absPath,
    function: f.function,
    module: f.module,
    lineno: f.lineno,
    colno: f.colno,
    inApp: f.inApp,
  }))
}

export function applyEvent(
  existing: IssueRow | undefined,
  event: StoredEvent,
  grouping: Grouping,
  releaseFirstSeen: number | null,
  newUser: boolean,
  now: number,
): Applied {
  const seen = Math.min(event.timestamp, now)
  if (!existing) {
    return {
      isNew: true,
      regressed: false,
      issue: {
        title: grouping.title,
        culprit: grouping.culprit,
        level: event.level,
        status: 'unresolved',
        count: 1,
        userCount: event.user ? 1 : 0,
        firstSeen: seen,
        lastSeen: seen,
        firstRelease: event.release,
        lastRelease: event.release,
        stacktrace: issueFrames(event),
        resolvedAt: null,
      },
    }
  }
  const issue = { ...existing }
  issue.count += 1
  if (newUser) issue.userCount += 1
  issue.lastSeen = Math.max(issue.lastSeen, seen)
  issue.firstSeen = Math.min(issue.firstSeen, seen)
  if (event.release) {
    issue.lastRelease = event.release
    issue.firstRelease ??= event.release
  }
  issue.level = event.level
  let regressed = false
  if (existing.status === 'resolved') {
    const resolvedAt = existing.resolvedAt ?? 0
    if (releaseFirstSeen === null || releaseFirstSeen > resolvedAt) {
      issue.status = 'regressed'
      issue.resolvedAt = null
      regressed = true
    }
  }
  return { issue, isNew: false, regressed }
}

export function isSpike(minuteEvents: number, hourMean: number, minEvents: number): boolean {
  return minuteEvents >= minEvents && minuteEvents >= 3 * hourMean
}

const iso = (ms: number) => new Date(ms).toISOString()

export function issueView(i: IssueRow) {
  return {
    id: String(i.id),
    title: i.title,
    culprit: i.culprit,
    level: i.level,
    status: i.status,
    count: i.count,
    userCount: i.userCount,
    firstSeen: iso(i.firstSeen),
    lastSeen: iso(i.lastSeen),
    firstRelease: i.firstRelease,
    lastRelease: i.lastRelease,
    stacktrace: i.stacktrace.map((f) => ({
      filename: f.filename,
      function: f.function,
      lineno: f.lineno,
      colno: f.colno,
      inApp: f.inApp,
    })),
  }
}

/** An opaque cursor for the position after `issue` in last-seen order. */
export function issueCursor(issue: IssueRow): string {
  return btoa(`${issue.lastSeen}.${issue.id}`).replaceAll('=', '')
}

export function parseIssueCursor(cursor: string): { lastSeen: number; id: number } | null {
  try {
    const [a, b] = atob(cursor).split('.')
    const lastSeen = Number(a)
    const id = Number(b)
    return Number.isSafeInteger(lastSeen) && Number.isSafeInteger(id) ? { lastSeen, id } : null
  } catch {
    return null
  }
}

/** A stable key of the event's user for counting users affected (id, else email, username, ip). */
export function userKey(event: StoredEvent): string | null {
  const u = event.user
  if (!u) return null
  const key = u.id ?? u.email ?? u.username ?? u.ip_address
  return key ? String(key) : null
}

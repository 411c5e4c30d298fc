/**
 * Wall-clock time in an IANA time zone, computed with `Intl.DateTimeFormat` only (the
 * runtime's own time zone data; no tz library), so it behaves the same on workerd, Node,
 * Deno and Bun.
 *
 * A wall-clock time is a number: the milliseconds `Date.UTC` gives for its fields, so
 * calendar arithmetic on it never crosses a daylight-saving change.
 *
 * Guarantees (the scheduler's DST policy, in one function, `instantOfWallTime`):
 * - a wall time that exists once maps to that instant;
 * - a wall time that exists twice (the repeated hour when clocks go back) maps to its FIRST
 *   occurrence, so a schedule runs once, not twice, in the repeated hour;
 * - a wall time that does not exist (skipped when clocks go forward) maps to the first
 *   valid instant after the gap: the transition instant itself (e.g. 02:30 on a spring-
 *   forward night in New York runs at 03:00 EDT). Several skipped times collapse into
 *   that one instant, so they run once.
 * This mapping never decreases as the wall time grows, which is what lets cron search
 * wall times in order and stop at the first one after a given instant.
 *
 * Cost: one `Intl` format per offset lookup (a few µs; formatters are cached per zone);
 * resolving a wall time takes 2 lookups, 4 near a change, plus ~17 for a time inside a
 * gap (a binary search over seconds for the transition). Assumes at most one offset change
 * within a day of the wall time, which holds for every zone in the tz database in practice.
 */

const SECOND = 1000
const DAY = 86_400_000

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

/**
 * The wall-clock time (see above) at `instantMs` in `timeZone`, truncated to the second.
 * `format` is read by its digit groups (month, day, year, hour, minute, second in en-US);
 * it is several times cheaper than `formatToParts`, which stays as the fallback.
 */
export function wallTimeAt(instantMs: number, timeZone: string): number {
  const formatter = formatterFor(timeZone)
  let fields = formatter.format(instantMs).match(/\d+/g)?.map(Number)
  if (fields?.length !== 6) {
    const parts = formatter.formatToParts(instantMs)
    const value = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value)
    fields = [value('month'), value('day'), value('year'), value('hour'), value('minute'), value('second')]
  }
  const [month = 1, day = 1, year = 1970, hour = 0, minute = 0, second = 0] = fields
  const wall = new Date(0)
  wall.setUTCFullYear(year, month - 1, day)
  wall.setUTCHours(hour, minute, second, 0)
  return wall.getTime()
}

/** The zone's offset from UTC at `instantMs`, in ms (wall time minus instant). */
export function offsetAt(instantMs: number, timeZone: string): number {
  const wholeSecond = Math.floor(instantMs / SECOND) * SECOND
  return wallTimeAt(wholeSecond, timeZone) - wholeSecond
}

/**
 * The instant a wall-clock time stands for, under the DST policy above: the only
 * occurrence, the first of two, or the end of the gap it falls into. The offsets a day
 * before and a day after are the only candidates; when they agree there is no change near.
 */
export function instantOfWallTime(wallMs: number, timeZone: string): number {
  const before = offsetAt(wallMs - DAY, timeZone)
  const after = offsetAt(wallMs + DAY, timeZone)
  if (before === after) return wallMs - before
  const valid = [wallMs - before, wallMs - after].filter(
    (instant) => wallTimeAt(instant, timeZone) === wallMs,
  )
  if (valid.length > 0) return Math.min(...valid)
  return endOfGap(wallMs, [before, after], timeZone)
}

/**
 * For a wall time inside a gap: the transition instant, i.e. the first instant whose wall
 * time is later than `wallMs`. It lies between `wallMs - largest offset` (still before the
 * change) and `wallMs - smallest offset` (already after it).
 */
function endOfGap(wallMs: number, offsets: number[], timeZone: string): number {
  let low = Math.floor((wallMs - Math.max(...offsets)) / SECOND)
  let high = Math.ceil((wallMs - Math.min(...offsets)) / SECOND)
  while (low < high) {
    const middle = Math.floor((low + high) / 2)
    if (wallTimeAt(middle * SECOND, timeZone) > wallMs) high = middle
    else low = middle + 1
  }
  return low * SECOND
}

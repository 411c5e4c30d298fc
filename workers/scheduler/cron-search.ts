/**
 * Where a parsed cron expression (cron.ts) matches: calendar dates, with Vixie cron's day
 * rule (when both day fields are restricted a day matches if EITHER matches; when either
 * begins with `*` both must match) and the Quartz-style `L`, `W`, `nL`, `n#k` extensions;
 * and the next run time in an IANA time zone.
 *
 * Next run: the earliest instant strictly after a given one whose wall-clock time in the
 * zone matches, with the DST policy of `timezone.ts` (repeated times run once, at their
 * first occurrence; skipped times run at the end of the gap). Cost: walks days (cheap
 * calendar checks) for at most one 400-year Gregorian cycle and resolves a handful of
 * wall times per candidate day (a few `Intl` calls each).
 */
import type { CronExpression } from './cron-expression'
import { instantOfWallTime, wallTimeAt } from './timezone'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
const HORIZON_DAYS = 401 * 366

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate()
}

/** Quartz's `LW`: the last Monday–Friday of the month. */
function lastWeekday(year: number, month: number): number {
  const length = daysInMonth(year, month)
  const weekday = new Date(Date.UTC(year, month - 1, length)).getUTCDay()
  return weekday === 6 ? length - 1 : weekday === 0 ? length - 2 : length
}

/** Quartz's `nW`: the weekday nearest to day `target`, never leaving the month. */
function nearestWeekday(year: number, month: number, target: number): number | undefined {
  const length = daysInMonth(year, month)
  if (target > length) return undefined
  const weekday = new Date(Date.UTC(year, month - 1, target)).getUTCDay()
  if (weekday === 6) return target === 1 ? 3 : target - 1
  if (weekday === 0) return target === length ? target - 2 : target + 1
  return target
}

/** Whether the calendar date (month 1–12) matches the month and both day fields. */
export function matchesDate(cron: CronExpression, year: number, month: number, day: number): boolean {
  if (!cron.months[month]) return false
  const rule = cron.days
  const length = daysInMonth(year, month)
  const weekday = new Date(Date.UTC(year, month - 1, day)).getUTCDay()
  const dayOfMonth =
    rule.daysOfMonth[day] === true ||
    rule.daysBeforeLast.some((before) => day === length - before) ||
    rule.nearestWeekdayTo.some((target) => nearestWeekday(year, month, target) === day) ||
    (rule.lastWeekdayOfMonth && day === lastWeekday(year, month))
  const dayOfWeek =
    rule.weekdays[weekday] === true ||
    rule.lastOfWeekday.some((wanted) => wanted === weekday && day + 7 > length) ||
    rule.nthWeekday.some(({ weekday: wanted, nth }) => wanted === weekday && Math.ceil(day / 7) === nth)
  if (rule.dayOfMonthStar || rule.dayOfWeekStar) return dayOfMonth && dayOfWeek
  return dayOfMonth || dayOfWeek
}

/** 2000–2027 holds every kind of year (14 = 7 weekdays × leap or not), so this is exact. */
export function matchesSomeDate(cron: CronExpression): boolean {
  for (let year = 2000; year < 2028; year++) {
    for (let month = 1; month <= 12; month++) {
      if (!cron.months[month]) continue
      for (let day = 1; day <= daysInMonth(year, month); day++)
        if (matchesDate(cron, year, month, day)) return true
    }
  }
  return false
}

/**
 * The first run strictly after `afterMs` in `timeZone`, or undefined when none falls
 * within 400 years. Wall times are searched in order; because the wall-to-instant mapping
 * of the DST policy never decreases, the first one that maps after `afterMs` is the answer,
 * and a day, hour or minute whose LAST matching time maps at or before `afterMs` is skipped
 * whole.
 */
export function nextCronTime(cron: CronExpression, timeZone: string, afterMs: number): number | undefined {
  const startWall = wallTimeAt(afterMs, timeZone)
  const startDay = startWall - (((startWall % DAY) + DAY) % DAY)
  const lastSecond = cron.seconds.at(-1) ?? 0
  const lastMinute = cron.minutes.at(-1) ?? 0
  const lastTimeOfDay = (cron.hours.at(-1) ?? 0) * HOUR + lastMinute * MINUTE + lastSecond * SECOND
  // A wall time at or before the start's maps at or before `afterMs`: skip it unresolved.
  const resolvesAfter = (wall: number) => wall > startWall && instantOfWallTime(wall, timeZone) > afterMs
  const horizon = startDay + HORIZON_DAYS * DAY
  let day = startDay
  while (day < horizon) {
    const date = new Date(day)
    const year = date.getUTCFullYear()
    const month = date.getUTCMonth() + 1
    if (!cron.months[month]) {
      day = Date.UTC(year, month, 1)
      continue
    }
    if (matchesDate(cron, year, month, date.getUTCDate()) && resolvesAfter(day + lastTimeOfDay)) {
      const startHour = day === startDay ? new Date(startWall).getUTCHours() : 0
      for (const hour of cron.hours) {
        const hourWall = day + hour * HOUR
        if (hour < startHour || !resolvesAfter(hourWall + lastMinute * MINUTE + lastSecond * SECOND)) continue
        for (const minute of cron.minutes) {
          const minuteWall = hourWall + minute * MINUTE
          if (!resolvesAfter(minuteWall + lastSecond * SECOND)) continue
          for (const second of cron.seconds) {
            const wall = minuteWall + second * SECOND
            if (resolvesAfter(wall)) return instantOfWallTime(wall, timeZone)
          }
        }
      }
    }
    day += DAY
  }
  return undefined
}

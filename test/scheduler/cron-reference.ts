/**
 * What the cron tests compare against: seeded random expressions, the zone's offset
 * transitions, the reference library (cron-parser) and an independent oracle of the
 * documented DST policy (a wall clock ticking through the instants, see `oracleRuns`).
 */
import { CronExpressionParser } from 'cron-parser'
import type { CronExpression } from '../../workers/scheduler/cron'
import { matchesDate, nextCronTime } from '../../workers/scheduler/cron-search'
import { offsetAt, wallTimeAt } from '../../workers/scheduler/timezone'
import { randomInt } from '../support/seeded'

const DAY = 86_400_000

function distinct(random: () => number, min: number, max: number, count: number): number[] {
  const values = new Set<number>()
  while (values.size < Math.min(count, max - min + 1)) values.add(randomInt(random, min, max))
  return [...values]
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

/** One field: star, stepped star, range, stepped range, start/step, list or single value. */
function field(random: () => number, min: number, max: number, starWeight: number, names?: string[]): string {
  const value = (n: number) =>
    names && random() < 0.3 ? (names[n - (min === 1 ? 1 : 0)] ?? String(n)) : String(n)
  const roll = random()
  if (roll < starWeight) return '*'
  const kind = randomInt(random, 0, 5)
  const low = randomInt(random, min, max)
  const high = randomInt(random, low, max)
  if (kind === 0) return `*/${randomInt(random, 1, Math.min(max - min + 1, 30))}`
  if (kind === 1) return `${value(low)}-${value(high)}`
  if (kind === 2) return `${low}-${high}/${randomInt(random, 1, Math.max(1, high - low))}`
  if (kind === 3) return `${low}/${randomInt(random, 1, Math.max(1, max - low))}`
  if (kind === 4)
    return distinct(random, min, max, randomInt(random, 2, 4))
      .map(value)
      .join(',')
  return value(low)
}

/**
 * A random expression inside the dialect both parsers read the same way: day fields that
 * begin with `*` are exactly `*` (Vixie's rule for a stepped star differs on purpose and is tested apart).
 */
export function randomExpression(random: () => number): string {
  let dayOfMonth = field(random, 1, 31, 0.2)
  let dayOfWeek = field(random, 0, 6, 0.2, DAYS)
  if (dayOfMonth.startsWith('*') && dayOfMonth !== '*') dayOfMonth = String(randomInt(random, 1, 28))
  if (dayOfWeek.startsWith('*') && dayOfWeek !== '*') dayOfWeek = String(randomInt(random, 0, 6))
  if (random() < 0.08) dayOfMonth = 'L'
  if (random() < 0.05) dayOfWeek = `${randomInt(random, 0, 6)}L`
  if (random() < 0.05) dayOfWeek = `${randomInt(random, 0, 6)}#${randomInt(random, 1, 4)}`
  if (random() < 0.5) {
    dayOfMonth = '*'
    if (random() < 0.6) dayOfWeek = '*'
  }
  const fields = [
    field(random, 0, 59, 0.25),
    field(random, 0, 23, 0.5),
    dayOfMonth,
    random() < 0.75 ? '*' : field(random, 1, 12, 0, MONTHS),
    dayOfWeek,
  ]
  if (random() < 0.2) fields.unshift(random() < 0.5 ? '0' : field(random, 0, 59, 0.2))
  return fields.join(' ')
}

export interface Transition {
  at: number
  /** Offset after minus offset before, ms: positive is a gap (spring forward), negative an overlap. */
  change: number
}

/** The zone's offset changes in [from, to): daily samples, then a binary search to the second. */
export function transitions(zone: string, from: number, to: number): Transition[] {
  const found: Transition[] = []
  let previous = offsetAt(from, zone)
  for (let day = from + DAY; day < to + DAY; day += DAY) {
    const offset = offsetAt(day, zone)
    if (offset === previous) continue
    let low = day - DAY
    let high = day
    while (high - low > 1000) {
      const middle = Math.floor((low + high) / 2000) * 1000
      if (offsetAt(middle, zone) === previous) low = middle
      else high = middle
    }
    found.push({ at: high, change: offset - previous })
    previous = offset
  }
  return found
}

export function matchesWall(cron: CronExpression, wall: number): boolean {
  const date = new Date(wall)
  return (
    matchesDate(cron, date.getUTCFullYear(), date.getUTCMonth() + 1, date.getUTCDate()) &&
    cron.hours.includes(date.getUTCHours()) &&
    cron.minutes.includes(date.getUTCMinutes()) &&
    cron.seconds.includes(date.getUTCSeconds())
  )
}

/** Our runs strictly after `start`, up to `count` or `until`. */
export function ourRuns(
  cron: CronExpression,
  zone: string,
  start: number,
  count: number,
  until: number,
): number[] {
  const runs: number[] = []
  let after = start
  while (runs.length < count) {
    const next = nextCronTime(cron, zone, after)
    if (next === undefined || next > until) break
    runs.push(next)
    after = next
  }
  return runs
}

export function referenceRuns(
  expression: string,
  zone: string,
  start: number,
  count: number,
  until: number,
): number[] {
  return CronExpressionParser.parse(expression, { currentDate: new Date(start), tz: zone })
    .take(count)
    .map((date) => date.toDate().getTime())
    .filter((at) => at <= until)
}

/**
 * The DST policy simulated by a clock that ticks every `stepMs` from `start` to `end`:
 * a matching wall time runs the first time the clock shows it; when the clock jumps
 * forward, the matching wall times it jumped over run at the jump, once. Independent of
 * `timezone.ts`'s arithmetic (it only reads wall times of instants).
 */
export function oracleRuns(
  cron: CronExpression,
  zone: string,
  start: number,
  end: number,
  stepMs: number,
): number[] {
  const runs: number[] = []
  const seen = new Set<number>()
  let previousWall = wallTimeAt(start, zone)
  seen.add(previousWall)
  for (let instant = start + stepMs; instant <= end; instant += stepMs) {
    const wall = wallTimeAt(instant, zone)
    let due = false
    for (let skipped = previousWall + stepMs; skipped < wall; skipped += stepMs) {
      if (!seen.has(skipped) && matchesWall(cron, skipped)) due = true
      seen.add(skipped)
    }
    if (!seen.has(wall) && matchesWall(cron, wall)) due = true
    seen.add(wall)
    if (due) runs.push(instant)
    if (wall > previousWall) previousWall = wall
  }
  return runs
}

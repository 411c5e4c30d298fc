import { describe, expect, it } from 'vitest'
import { canonicalTimeZone } from '../../schemas/scheduler'
import { type CronExpression, parseCron } from '../../workers/scheduler/cron'
import { matchesDate } from '../../workers/scheduler/cron-search'
import { instantOfWallTime, offsetAt, wallTimeAt } from '../../workers/scheduler/timezone'
import { randomInt, seededRandom } from '../support/seeded'
import {
  matchesWall,
  ourRuns,
  randomExpression,
  referenceRuns,
  type Transition,
  transitions,
} from './cron-reference'

const DAY = 86_400_000
const at = (iso: string) => Date.parse(iso)
const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString())

function cron(expression: string): CronExpression {
  const parsed = parseCron(expression)
  if (!parsed.ok) throw new Error(`${expression}: ${parsed.error}`)
  return parsed.cron
}

function runs(expression: string, zone: string, fromIso: string, count: number): string[] {
  return ourRuns(cron(expression), zone, at(fromIso), count, Number.POSITIVE_INFINITY).map(
    (ms) => iso(ms) ?? '',
  )
}

describe('parseCron', () => {
  it('reads lists, ranges, steps, names and macros', () => {
    const parsed = cron('0,30 9-17/4 * JAN-mar,dec MON-FRI')
    expect(parsed.seconds).toEqual([0])
    expect(parsed.minutes).toEqual([0, 30])
    expect(parsed.hours).toEqual([9, 13, 17])
    expect([1, 2, 3, 12].every((month) => parsed.months[month])).toBe(true)
    expect(parsed.months[4]).toBeUndefined()
    expect(cron('5/20 * * * *').minutes).toEqual([5, 25, 45])
    expect(cron('*/15 * * * *').minutes).toEqual([0, 15, 30, 45])
    expect(cron('@hourly').minutes).toEqual([0])
    expect(cron('@weekly').days.weekdays[0]).toBe(true)
    expect(cron('0 0 * * 7').days.weekdays[0]).toBe(true)
  })

  it('takes a leading seconds field when there are six', () => {
    const parsed = cron('*/20 5 4 * * *')
    expect(parsed.seconds).toEqual([0, 20, 40])
    expect(parsed.minutes).toEqual([5])
    expect(parsed.hours).toEqual([4])
    expect(runs('*/20 * * * * *', 'UTC', '2030-01-01T00:00:00Z', 3)).toEqual([
      '2030-01-01T00:00:20.000Z',
      '2030-01-01T00:00:40.000Z',
      '2030-01-01T00:01:00.000Z',
    ])
  })

  it.each([
    ['', 'Expected 5 fields'],
    ['* * * *', 'Expected 5 fields'],
    ['* * * * * * *', 'Expected 5 fields'],
    ['60 * * * *', 'minute: 60 is outside 0–59'],
    ['* 24 * * *', 'hour: 24 is outside 0–23'],
    ['* * 0 * *', 'day-of-month: 0 is outside 1–31'],
    ['* * * 13 *', 'month: 13 is outside 1–12'],
    ['* * * * 8', 'day-of-week: 8 is outside 0–7'],
    ['*/0 * * * *', 'minute: step 0 is outside 1–60'],
    ['5-1 * * * *', 'range 5-1 runs backwards'],
    ['* * * FOO *', 'month: "FOO" is not a number or name'],
    ['1,,2 * * * *', 'empty list item'],
    ['H * * * *', 'minute: "H" is not a number'],
    ['* * * * L', 'a bare "L" is ambiguous'],
    ['* * * * 1#6', 'occurrence 6'],
    ['@reboot', 'Unknown macro'],
    ['0 0 30 2 *', 'never matches any date'],
    ['0 0 31 4,6,9,11 *', 'never matches any date'],
  ])('rejects %j (%s)', (expression, message) => {
    const parsed = parseCron(expression)
    expect(parsed.ok).toBe(false)
    if (!parsed.ok) expect(parsed.error).toContain(message)
  })

  it('knows L, L-n, nW, LW, nL and n#k as calendar rules', () => {
    const days = (expression: string, year: number, month: number) =>
      Array.from({ length: 31 }, (_, i) => i + 1).filter((day) =>
        matchesDate(cron(expression), year, month, day),
      )
    expect(days('0 0 L * *', 2024, 2)).toEqual([29])
    expect(days('0 0 L-2 * *', 2023, 2)).toEqual([26])
    // 2024-06-15 is a Saturday: the nearest weekday is Friday the 14th.
    expect(days('0 0 15W * *', 2024, 6)).toEqual([14])
    // 2024-09-01 is a Sunday: 1W never leaves the month, so Monday the 2nd.
    expect(days('0 0 1W * *', 2024, 9)).toEqual([2])
    // 2024-06-01 is a Saturday: Monday the 3rd.
    expect(days('0 0 1W * *', 2024, 6)).toEqual([3])
    // 2024-03-31 is a Sunday: the last weekday is Friday the 29th.
    expect(days('0 0 LW * *', 2024, 3)).toEqual([29])
    expect(days('0 0 31W * *', 2024, 4)).toEqual([])
    expect(days('0 0 * * 5L', 2024, 5)).toEqual([31])
    expect(days('0 0 * * FRI#3', 2024, 5)).toEqual([17])
  })

  it('follows Vixie cron: restricted day-of-month OR day-of-week, AND when either begins with *', () => {
    // The 13th, or any Friday.
    expect(runs('0 0 13 * 5', 'UTC', '2024-09-01T00:00:00Z', 4)).toEqual([
      '2024-09-06T00:00:00.000Z',
      '2024-09-13T00:00:00.000Z',
      '2024-09-20T00:00:00.000Z',
      '2024-09-27T00:00:00.000Z',
    ])
    // A stepped star counts as "*": odd days that are also Mondays (cron-parser reads OR here).
    const ours = runs('0 0 */2 * 1', 'UTC', '2024-01-01T00:00:00Z', 3)
    expect(ours).toEqual(['2024-01-15T00:00:00.000Z', '2024-01-29T00:00:00.000Z', '2024-02-05T00:00:00.000Z'])
    const reference = referenceRuns(
      '0 0 */2 * 1',
      'UTC',
      at('2024-01-01T00:00:00Z'),
      3,
      Number.POSITIVE_INFINITY,
    )
    expect(reference.map(iso)).toEqual([
      '2024-01-03T00:00:00.000Z',
      '2024-01-05T00:00:00.000Z',
      '2024-01-07T00:00:00.000Z',
    ])
  })
})

describe('time zones', () => {
  it('canonicalizes IANA names and refuses others', () => {
    expect(canonicalTimeZone('europe/berlin')).toBe('Europe/Berlin')
    expect(canonicalTimeZone('UTC')).toBe('UTC')
    expect(canonicalTimeZone('Mars/Olympus_Mons')).toBeUndefined()
    expect(canonicalTimeZone('+05:00')).toBeUndefined()
    expect(canonicalTimeZone('')).toBeUndefined()
  })

  it('reads wall times and offsets, including half- and quarter-hour zones', () => {
    expect(iso(wallTimeAt(at('2024-07-01T12:00:00.750Z'), 'Asia/Kathmandu'))).toBe('2024-07-01T17:45:00.000Z')
    expect(offsetAt(at('2024-01-15T00:00:00Z'), 'Australia/Lord_Howe')).toBe(11 * 3600_000)
    expect(offsetAt(at('2024-07-15T00:00:00Z'), 'Australia/Lord_Howe')).toBe(10.5 * 3600_000)
  })
})

/**
 * Zones whose transitions cron-parser handles: on the hour and not a repeated midnight. It
 * misplaces runs near Lord Howe's 30-minute shift, Chatham's 02:45 change, St John's
 * 00:01 changes (until 2011) and Havana's repeated midnight; dst.logic.test.ts checks
 * those zones against an oracle instead.
 */
const REFERENCE_ZONES = [
  'America/New_York',
  'America/Los_Angeles',
  'America/Chicago',
  'America/Santiago',
  'America/Sao_Paulo',
  'Europe/London',
  'Europe/Berlin',
  'Africa/Cairo',
  'Asia/Tehran',
  'Australia/Sydney',
  'Pacific/Auckland',
  'Asia/Kathmandu',
]
const CASES_PER_ZONE = 200
const RUNS_PER_CASE = 10

type Verdict =
  | 'same'
  | 'gap-end'
  | 'reference-second-occurrence'
  | 'reference-shifted-past-gap'
  | 'unexplained'

/**
 * Classifies an instant in one sequence but not the other by the documented policy:
 * - ours only, at a gap's end, with a matching wall time inside the gap: skipped times run
 *   at the first instant after the gap (cron-parser runs them an hour later, or not);
 * - cron-parser only, a repeated wall time's second occurrence: we run repeated times once;
 * - cron-parser only, within a gap's length after it, matching only when shifted back by
 *   the gap: cron-parser's way of running skipped times.
 */
function classify(
  instant: number,
  side: 'ours' | 'reference',
  cronExpression: CronExpression,
  zone: string,
  near: Transition[],
): Verdict {
  const wall = wallTimeAt(instant, zone)
  if (side === 'ours') {
    const gap = near.find((transition) => transition.change > 0 && transition.at === instant)
    if (!gap) return 'unexplained'
    for (let skipped = wall - gap.change; skipped < wall; skipped += 1000) {
      if (matchesWall(cronExpression, skipped)) return 'gap-end'
    }
    return 'unexplained'
  }
  if (matchesWall(cronExpression, wall) && instantOfWallTime(wall, zone) < instant)
    return 'reference-second-occurrence'
  const gap = near.find(
    (transition) =>
      transition.change > 0 && transition.at <= instant && instant < transition.at + transition.change,
  )
  if (gap && matchesWall(cronExpression, wall - gap.change)) return 'reference-shifted-past-gap'
  return 'unexplained'
}

describe('next run agrees with cron-parser', () => {
  it('in UTC, exactly, over 1,000 seeded random expressions', () => {
    const random = seededRandom(20261126)
    let compared = 0
    for (let i = 0; i < 1000; i++) {
      const expression = randomExpression(random)
      const parsed = parseCron(expression)
      if (!parsed.ok) continue
      const start =
        Date.UTC(2000, 0, 1) + randomInt(random, 0, 40 * 365) * DAY + randomInt(random, 0, 86_399) * 1000
      const ours = ourRuns(parsed.cron, 'UTC', start, RUNS_PER_CASE, Number.POSITIVE_INFINITY)
      const reference = referenceRuns(expression, 'UTC', start, RUNS_PER_CASE, Number.POSITIVE_INFINITY)
      expect(ours.map(iso), `${expression} after ${iso(start)}`).toEqual(reference.map(iso))
      compared++
    }
    expect(compared).toBeGreaterThan(950)
  })

  describe.each(REFERENCE_ZONES)('in %s, across DST transitions', (zone) => {
    it(`differs only where the DST policy says so (${CASES_PER_ZONE} seeded cases)`, () => {
      const random = seededRandom(zone.length * 7919 + zone.charCodeAt(0))
      const verdicts: Record<Verdict, number> = {
        same: 0,
        'gap-end': 0,
        'reference-second-occurrence': 0,
        'reference-shifted-past-gap': 0,
        unexplained: 0,
      }
      const yearTransitions = new Map<number, Transition[]>()
      for (let i = 0; i < CASES_PER_ZONE; i++) {
        const expression = randomExpression(random)
        const parsed = parseCron(expression)
        if (!parsed.ok) continue
        const year = randomInt(random, 2005, 2035)
        if (!yearTransitions.has(year))
          yearTransitions.set(year, transitions(zone, Date.UTC(year, 0, 1), Date.UTC(year + 1, 0, 1)))
        const inYear = yearTransitions.get(year) ?? []
        const near = inYear.length > 0 && random() < 0.85
        const anchor = near
          ? (inYear[randomInt(random, 0, inYear.length - 1)]?.at ?? 0) -
            randomInt(random, 0, 3 * 86_400) * 1000
          : Date.UTC(year, 0, 1) + randomInt(random, 0, 364 * 86_400) * 1000
        const start = Math.floor(anchor / 60_000) * 60_000
        const until = start + 40 * DAY
        const ours = ourRuns(parsed.cron, zone, start, RUNS_PER_CASE, until)
        const reference = referenceRuns(expression, zone, start, RUNS_PER_CASE, until)
        const end = Math.min(ours.at(-1) ?? until, reference.at(-1) ?? until)
        const oursSet = new Set(ours.filter((ms) => ms <= end))
        const referenceSet = new Set(reference.filter((ms) => ms <= end))
        const around = transitions(zone, start - DAY, end + DAY)
        for (const instant of oursSet) {
          const verdict = referenceSet.has(instant)
            ? 'same'
            : classify(instant, 'ours', parsed.cron, zone, around)
          verdicts[verdict]++
          expect(verdict, `${expression} in ${zone} after ${iso(start)}: ours ${iso(instant)}`).not.toBe(
            'unexplained',
          )
        }
        for (const instant of referenceSet) {
          if (oursSet.has(instant)) continue
          const verdict = classify(instant, 'reference', parsed.cron, zone, around)
          verdicts[verdict]++
          expect(
            verdict,
            `${expression} in ${zone} after ${iso(start)}: cron-parser ${iso(instant)}`,
          ).not.toBe('unexplained')
        }
      }
      expect(verdicts.same).toBeGreaterThan(CASES_PER_ZONE)
      if (zone !== 'Asia/Kathmandu')
        expect(verdicts['gap-end'] + verdicts['reference-second-occurrence']).toBeGreaterThan(0)
    })
  })
})

/**
 * Cron expressions: parsing into the form of cron-expression.ts. Matching dates and finding
 * the next run time in an IANA time zone are in cron-search.ts.
 *
 * Syntax: five fields `minute hour day-of-month month day-of-week`, or six with a leading
 * `second` field (as cron-parser reads them). Each field is a list of `*`, `n`, `a-b`,
 * each optionally stepped by `/n` (`1-30/2`; `5/10` runs from 5 to the field's end; a
 * stepped star is every n-th value); `JAN`–`DEC` and `SUN`–`SAT` by name (any case);
 * day-of-week 0 and 7 are Sunday; `?` is `*` in the day fields. Macros: `@yearly` `@annually` `@monthly` `@weekly` `@daily`
 * `@midnight` `@hourly`. Extensions, each a plain calendar rule:
 * - day-of-month `L` (last day), `L-n` (n days before the last), `nW` (the weekday
 *   nearest to day n within the same month; a month shorter than n has none), `LW` (the
 *   last weekday);
 * - day-of-week `nL` (the last weekday n of the month), `n#k` (the k-th weekday n, k 1–5).
 * `H`, `@reboot` and anything else are rejected with a message saying why.
 *
 * Day matching follows Vixie cron (cronie): when both day fields are restricted a day
 * matches if EITHER matches; when either field begins with `*` (a stepped star too) both
 * must match. Expressions that can never match a date (`0 0 30 2 *`) are rejected.
 * Cost: linear in the expression's length, plus one scan of 28 years of dates to reject
 * expressions that never match.
 */
import { CRON_MAX_LENGTH } from '../../schemas/scheduler'
import type { CronExpression, DayRule } from './cron-expression'
import { matchesSomeDate } from './cron-search'

export type { CronExpression } from './cron-expression'

export type CronParseResult = { ok: true; cron: CronExpression } | { ok: false; error: string }

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
}

const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC']
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT']

interface FieldSpec {
  label: string
  min: number
  max: number
  names?: string[]
  /** The value names[i] stands for is `i + namesStart`. */
  namesStart?: number
}

const FIELDS = {
  second: { label: 'second', min: 0, max: 59 },
  minute: { label: 'minute', min: 0, max: 59 },
  hour: { label: 'hour', min: 0, max: 23 },
  dayOfMonth: { label: 'day-of-month', min: 1, max: 31 },
  month: { label: 'month', min: 1, max: 12, names: MONTH_NAMES, namesStart: 1 },
  dayOfWeek: { label: 'day-of-week', min: 0, max: 7, names: DAY_NAMES, namesStart: 0 },
} satisfies Record<string, FieldSpec>

class CronSyntaxError extends Error {}

function fail(message: string): never {
  throw new CronSyntaxError(message)
}

function parseValue(text: string, spec: FieldSpec): number {
  const index = spec.names?.indexOf(text.toUpperCase()) ?? -1
  const value =
    index >= 0 ? index + (spec.namesStart ?? 0) : /^\d{1,2}$/.test(text) ? Number(text) : Number.NaN
  if (Number.isNaN(value)) fail(`${spec.label}: "${text}" is not a number${spec.names ? ' or name' : ''}`)
  if (value < spec.min || value > spec.max) fail(`${spec.label}: ${value} is outside ${spec.min}–${spec.max}`)
  return value
}

/** The values of one `*`, `n`, `a-b` item with an optional `/step`. */
function parseRangeItem(item: string, spec: FieldSpec, stars: readonly string[]): number[] {
  const [range = '', stepText, extra] = item.split('/')
  if (extra !== undefined) fail(`${spec.label}: "${item}" has more than one "/"`)
  let step = 1
  if (stepText !== undefined) {
    if (!/^\d{1,2}$/.test(stepText)) fail(`${spec.label}: step "${stepText}" is not a number`)
    step = Number(stepText)
    if (step < 1 || step > spec.max - spec.min + 1)
      fail(`${spec.label}: step ${step} is outside 1–${spec.max - spec.min + 1}`)
  }
  let low: number
  let high: number
  if (stars.includes(range)) {
    low = spec.min
    high = spec.max
  } else if (range.includes('-')) {
    const [lowText = '', highText = '', more] = range.split('-')
    if (more !== undefined) fail(`${spec.label}: "${range}" is not a range`)
    low = parseValue(lowText, spec)
    high = parseValue(highText, spec)
    if (low > high) fail(`${spec.label}: range ${range} runs backwards`)
  } else {
    low = parseValue(range, spec)
    high = stepText === undefined ? low : spec.max
  }
  const values: number[] = []
  for (let value = low; value <= high; value += step) values.push(value)
  return values
}

function parseSimpleField(text: string, spec: FieldSpec): number[] {
  const values = new Set<number>()
  for (const item of text.split(',')) {
    if (item === '') fail(`${spec.label}: empty list item in "${text}"`)
    for (const value of parseRangeItem(item, spec, ['*'])) values.add(value)
  }
  return [...values].sort((a, b) => a - b)
}

function parseDayOfMonth(text: string, rule: DayRule): void {
  const spec = FIELDS.dayOfMonth
  rule.dayOfMonthStar = text.startsWith('*') || text.startsWith('?')
  for (const item of text.split(',')) {
    const upper = item.toUpperCase()
    const beforeLast = /^L(?:-(\d{1,2}))?$/.exec(upper)
    const nearest = /^(\d{1,2})W$/.exec(upper)
    if (beforeLast) {
      const days = Number(beforeLast[1] ?? 0)
      if (days > 30) fail(`${spec.label}: "${item}" reaches before the first day`)
      rule.daysBeforeLast.push(days)
    } else if (upper === 'LW') {
      rule.lastWeekdayOfMonth = true
    } else if (nearest) {
      rule.nearestWeekdayTo.push(parseValue(nearest[1] ?? '', spec))
    } else {
      if (item === '') fail(`${spec.label}: empty list item in "${text}"`)
      for (const day of parseRangeItem(item, spec, ['*', '?'])) rule.daysOfMonth[day] = true
    }
  }
}

function parseDayOfWeek(text: string, rule: DayRule): void {
  const spec = FIELDS.dayOfWeek
  rule.dayOfWeekStar = text.startsWith('*') || text.startsWith('?')
  for (const item of text.split(',')) {
    const last = /^([A-Za-z]{3}|\d)L$/i.exec(item)
    const nth = /^([A-Za-z]{3}|\d)#(\d+)$/.exec(item)
    if (last) {
      rule.lastOfWeekday.push(parseValue(last[1] ?? '', spec) % 7)
    } else if (nth) {
      const k = Number(nth[2])
      if (k < 1 || k > 5) fail(`${spec.label}: "${item}" asks for occurrence ${k}; use 1–5`)
      rule.nthWeekday.push({ weekday: parseValue(nth[1] ?? '', spec) % 7, nth: k })
    } else {
      if (item === '') fail(`${spec.label}: empty list item in "${text}"`)
      if (/^L$/i.test(item))
        fail(`${spec.label}: a bare "L" is ambiguous; write e.g. "5L" for the last Friday`)
      for (const day of parseRangeItem(item, spec, ['*', '?'])) rule.weekdays[day % 7] = true
    }
  }
}

export function parseCron(source: string): CronParseResult {
  if (source.length > CRON_MAX_LENGTH) return { ok: false, error: `At most ${CRON_MAX_LENGTH} characters` }
  const trimmed = source.trim()
  const expanded = trimmed.startsWith('@') ? MACROS[trimmed.toLowerCase()] : trimmed
  if (expanded === undefined) return { ok: false, error: `Unknown macro "${trimmed}"` }
  const fields = expanded.split(/\s+/)
  if (fields.length !== 5 && fields.length !== 6) {
    return { ok: false, error: `Expected 5 fields (or 6 with seconds first), got ${fields.length}` }
  }
  const [second, minute, hour, dayOfMonth, month, dayOfWeek] = fields.length === 6 ? fields : ['0', ...fields]
  try {
    const days: DayRule = {
      daysOfMonth: [],
      daysBeforeLast: [],
      nearestWeekdayTo: [],
      lastWeekdayOfMonth: false,
      weekdays: [],
      lastOfWeekday: [],
      nthWeekday: [],
      dayOfMonthStar: false,
      dayOfWeekStar: false,
    }
    parseDayOfMonth(dayOfMonth ?? '', days)
    parseDayOfWeek(dayOfWeek ?? '', days)
    const months: boolean[] = []
    for (const value of parseSimpleField(month ?? '', FIELDS.month)) months[value] = true
    const cron: CronExpression = {
      source,
      seconds: parseSimpleField(second ?? '', FIELDS.second),
      minutes: parseSimpleField(minute ?? '', FIELDS.minute),
      hours: parseSimpleField(hour ?? '', FIELDS.hour),
      months,
      days,
    }
    if (!matchesSomeDate(cron)) return { ok: false, error: 'The expression never matches any date' }
    return { ok: true, cron }
  } catch (error) {
    if (error instanceof CronSyntaxError) return { ok: false, error: error.message }
    throw error
  }
}

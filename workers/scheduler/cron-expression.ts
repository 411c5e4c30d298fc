/** A parsed cron expression: each field's allowed values and the day rule (parsed in cron.ts, matched in cron-search.ts). */

export interface CronExpression {
  readonly source: string
  readonly seconds: readonly number[]
  readonly minutes: readonly number[]
  readonly hours: readonly number[]
  /** Index 1–12. */
  readonly months: readonly boolean[]
  readonly days: DayRule
}

export interface DayRule {
  /** Index 1–31. */
  daysOfMonth: boolean[]
  /** `L` is 0, `L-3` is 3. */
  daysBeforeLast: number[]
  /** `15W` is 15. */
  nearestWeekdayTo: number[]
  lastWeekdayOfMonth: boolean
  /** Index 0–6, Sunday 0. */
  weekdays: boolean[]
  /** `5L`: the last Friday. */
  lastOfWeekday: number[]
  /** `5#3`: the third Friday. */
  nthWeekday: Array<{ weekday: number; nth: number }>
  dayOfMonthStar: boolean
  dayOfWeekStar: boolean
}

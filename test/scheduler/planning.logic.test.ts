import { describe, expect, it } from 'vitest'
import { backoffDelayMs } from '../../workers/platform/delivery'
import { type Candidate, DEFAULT_LIMITS, grant, planRound } from '../../workers/scheduler/fairness'
import { MIN_INTERVAL_SECONDS, nextIntervalTime } from '../../workers/scheduler/interval'
import { admitRun, collectDue, type PlanSpec, plannerFor } from '../../workers/scheduler/schedule-plan'
import {
  afterAttempt,
  DEFAULT_RETRY,
  derivedTaskId,
  newTaskId,
  shardOfTask,
} from '../../workers/scheduler/tasks'

const SECOND = 1000
const MINUTE = 60 * SECOND

describe('interval schedules', () => {
  it('run at anchor + k·every, strictly after the given instant', () => {
    const spec = { everySeconds: 90, anchorMs: 1_000_000 }
    expect(nextIntervalTime(spec, 0)).toBe(1_000_000)
    expect(nextIntervalTime(spec, 1_000_000)).toBe(1_090_000)
    expect(nextIntervalTime(spec, 1_089_999)).toBe(1_090_000)
    expect(nextIntervalTime(spec, 1_090_000)).toBe(1_180_000)
    expect(MIN_INTERVAL_SECONDS).toBe(1)
  })
})

describe('fair dispatch rounds', () => {
  const task = (tenant: string, id: string, priorityRank = 1, dueAt = 0): Candidate => ({
    id,
    tenant,
    priorityRank,
    dueAt,
  })

  it('gives a tenant with one due task a place in the same round as a tenant with 10,000', () => {
    const flood = Array.from({ length: 10_000 }, (_, i) =>
      task('big', `big-${String(i).padStart(5, '0')}`, 1, i),
    )
    const round = planRound([...flood, task('small', 'small-1', 1, 9_999)], 25)
    expect(round).toHaveLength(26)
    expect(round.filter((candidate) => candidate.tenant === 'big')).toHaveLength(25)
    // Interleaved: the small tenant's task goes out second, right after the big tenant's first.
    expect(round.map((candidate) => candidate.id).slice(0, 3)).toEqual(['big-00000', 'small-1', 'big-00001'])
  })

  it('runs higher priority first within a tenant, then the earliest due, then by id', () => {
    const round = planRound(
      [
        task('a', 'low', 2, 1),
        task('a', 'normal-late', 1, 5),
        task('a', 'high', 0, 9),
        task('a', 'normal-early', 1, 2),
      ],
      10,
    )
    expect(round.map((candidate) => candidate.id)).toEqual(['high', 'normal-early', 'normal-late', 'low'])
  })

  it('takes no more from a tenant than its allowance', () => {
    const candidates = [...Array.from({ length: 5 }, (_, i) => task('a', `a${i}`)), task('b', 'b0')]
    const round = planRound(candidates, 10, (tenant) => (tenant === 'a' ? 2 : 0))
    expect(round.map((candidate) => candidate.id)).toEqual(['a0', 'a1'])
  })

  it('limits concurrency with slots and the rate with a token bucket', () => {
    const limits = { concurrency: 3, ratePerSecond: 2, burst: 4 }
    const full = { tokens: 4, refilledAt: 0 }
    expect(grant(10, 1, full, limits, 0)).toMatchObject({ granted: 2, reason: 'concurrency' })
    const burst = grant(10, 0, full, { ...limits, concurrency: 10 }, 0)
    expect(burst).toMatchObject({ granted: 4, reason: 'rate', retryAt: 500 })
    // Half a second later one token has come back (2 per second).
    expect(grant(10, 0, burst.bucket, { ...limits, concurrency: 10 }, 500)).toMatchObject({ granted: 1 })
    expect(grant(1, 0, full, limits, 0)).toMatchObject({ granted: 1, reason: 'granted' })
    expect(DEFAULT_LIMITS.concurrency).toBeGreaterThan(0)
  })
})

describe('task lifecycle', () => {
  it('retries with full-jitter exponential backoff, then fails', () => {
    const retry = { maxAttempts: 4, initialDelayMs: 1000, maxDelayMs: 3000 }
    expect(afterAttempt(1, { ok: false }, retry, 10_000, 0.5)).toEqual({
      status: 'scheduled',
      dueAt: 10_500,
      delayMs: 500,
    })
    expect(afterAttempt(2, { ok: false }, retry, 10_000, 0.5)).toEqual({
      status: 'scheduled',
      dueAt: 11_000,
      delayMs: 1000,
    })
    // Capped at maxDelayMs: min(3000, 1000·2²) = 3000.
    expect(afterAttempt(3, { ok: false }, retry, 10_000, 0.99)).toMatchObject({
      delayMs: backoffDelayMs(3, 0.99, { baseMs: 1000, capMs: 3000 }),
    })
    expect(afterAttempt(4, { ok: false }, retry, 10_000, 0.5)).toEqual({ status: 'failed' })
    expect(afterAttempt(2, { ok: true }, DEFAULT_RETRY, 10_000, 0.5)).toEqual({ status: 'succeeded' })
  })

  it('derives the same task id from the same run, and draws ids into a chosen shard', async () => {
    expect(await derivedTaskId('t/s/g/planned-1')).toBe(await derivedTaskId('t/s/g/planned-1'))
    expect(await derivedTaskId('t/s/g/planned-1')).not.toBe(await derivedTaskId('t/s/g/planned-2'))
    expect(await derivedTaskId('x')).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    for (let shard = 0; shard < 8; shard++) expect(shardOfTask(newTaskId(shard))).toBe(shard)
  })
})

describe('schedule plans', () => {
  const everyMinute = (overrides: Partial<PlanSpec> = {}): PlanSpec => ({
    timing: { kind: 'interval', everySeconds: 60, anchorMs: 0 },
    jitterMs: 0,
    catchupWindowMs: 5 * MINUTE,
    catchup: 'all',
    ...overrides,
  })

  it('runs the one due time when woken on time', () => {
    const spec = everyMinute()
    const due = collectDue(spec, plannerFor(spec, 's'), 10 * MINUTE, 11 * MINUTE + 20, 100)
    expect(due).toEqual({ run: [11 * MINUTE], cursor: 11 * MINUTE, nextPlanned: 12 * MINUTE })
  })

  it('after downtime, catches up every time inside the window (all) and counts the rest missed', () => {
    const spec = everyMinute()
    const due = collectDue(spec, plannerFor(spec, 's'), 0, 60 * MINUTE, 100)
    expect(due.run).toEqual([55, 56, 57, 58, 59, 60].map((minute) => minute * MINUTE))
    expect(due.missed).toEqual({ first: 1 * MINUTE, last: 54 * MINUTE })
    expect(due.nextPlanned).toBe(61 * MINUTE)
  })

  it('after downtime, runs only the latest (last)', () => {
    const spec = everyMinute({ catchup: 'last' })
    const due = collectDue(spec, plannerFor(spec, 's'), 0, 60 * MINUTE + 30 * SECOND, 100)
    expect(due.run).toEqual([60 * MINUTE])
    expect(due.missed).toEqual({ first: 1 * MINUTE, last: 59 * MINUTE })
    expect(due.cursor).toBe(60 * MINUTE)
  })

  it('returns at most `limit` runs per wake and resumes from the cursor', () => {
    const spec = everyMinute({ catchupWindowMs: 3 * 3600_000 })
    const first = collectDue(spec, plannerFor(spec, 's'), 0, 120 * MINUTE, 50)
    expect(first.run).toHaveLength(50)
    const second = collectDue(spec, plannerFor(spec, 's'), first.cursor, 120 * MINUTE, 100)
    expect(second.run).toHaveLength(70)
    expect(second.run[0]).toBe(51 * MINUTE)
  })

  it('catches up cron schedules the same way', () => {
    const spec: PlanSpec = {
      timing: { kind: 'cron', cron: '*/10 * * * *', timeZone: 'UTC' },
      jitterMs: 0,
      catchupWindowMs: 30 * MINUTE,
      catchup: 'all',
    }
    const start = Date.UTC(2030, 0, 1)
    const due = collectDue(spec, plannerFor(spec, 's'), start, start + 120 * MINUTE, 100)
    expect(due.run.map((ms) => (ms - start) / MINUTE)).toEqual([90, 100, 110, 120])
    expect(due.missed).toEqual({ first: start + 10 * MINUTE, last: start + 80 * MINUTE })
  })

  it('jitters each planned time by a stable amount below the jitter and the gap to the next', () => {
    const spec = everyMinute({ jitterMs: 30 * SECOND })
    const planner = plannerFor(spec, 'tenant/schedule/generation')
    const delays = Array.from({ length: 200 }, (_, i) => planner.dueAt(i * MINUTE) - i * MINUTE)
    expect(delays.every((delay) => delay >= 0 && delay < 30 * SECOND)).toBe(true)
    expect(new Set(delays).size).toBeGreaterThan(150)
    expect(plannerFor(spec, 'tenant/schedule/generation').dueAt(7 * MINUTE)).toBe(planner.dueAt(7 * MINUTE))
    const wide = everyMinute({ jitterMs: 10 * MINUTE })
    const widePlanner = plannerFor(wide, 'x')
    expect(
      Array.from({ length: 100 }, (_, i) => widePlanner.dueAt(i * MINUTE) - i * MINUTE).every(
        (d) => d < MINUTE,
      ),
    ).toBe(true)
  })

  it('admits runs by the overlap policy', () => {
    expect(admitRun('skip', 0, 0)).toBe('start')
    expect(admitRun('skip', 1, 0)).toBe('skip')
    expect(admitRun('buffer_one', 1, 0)).toBe('buffer')
    expect(admitRun('buffer_one', 1, 1)).toBe('skip')
    expect(admitRun('allow_all', 3, 0)).toBe('start')
  })
})

import { runDurableObjectAlarm } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { parseCron } from '../../workers/scheduler/cron'
import { nextCronTime } from '../../workers/scheduler/cron-search'
import { call, tokenFor } from '../helpers'
import {
  type Client,
  client,
  fire,
  httpTarget,
  problemCode,
  scheduleObject,
  scriptTarget,
  setClock,
  shardOf,
} from './support'

afterEach(() => {
  vi.restoreAllMocks()
})

const MINUTE = 60_000
const HOUR = 60 * MINUTE
/** A whole minute an hour ahead: schedules start there, so no real alarm fires during a test. */
const A = Math.ceil((Date.now() + HOUR) / MINUTE) * MINUTE

interface Run {
  runId: string
  plannedAt: number
  reason: string
  status: string
  taskId: string | null
  detail: string | null
}

async function createSchedule(s: Client, body: Record<string, unknown>) {
  const response = await s.post('/schedules', { target: httpTarget(`/${body.name}`), ...body })
  expect(response.status, JSON.stringify(response.body)).toBe(201)
  return response.body
}

async function runsOf(s: Client, name: string): Promise<Run[]> {
  const response = await s.get(`/schedules/${name}/runs`)
  expect(response.status).toBe(200)
  return (response.body.items as Run[]).slice().reverse()
}

/** Wakes the schedule at `at` (its clock set there). */
async function wake(s: Client, name: string, at: number) {
  const stub = scheduleObject(s.tenant, name)
  await setClock(stub, at)
  await runDurableObjectAlarm(stub)
}

/** Runs the task of `run` in its shard at `at`, which reports back to the schedule. */
async function finishRun(run: Run | undefined, at: number) {
  const shard = shardOf(run?.taskId ?? '')
  await setClock(shard, at)
  await fire(shard)
}

const statuses = (runs: Run[]) =>
  runs.map((run) => `${run.plannedAt === 0 ? 0 : (run.plannedAt - A) / MINUTE}:${run.status}`)

describe('schedules', () => {
  it('are created, read, listed and deleted; names are unique per tenant', async () => {
    const s = await client()
    const created = await createSchedule(s, { name: 'nightly', cron: '0 3 * * *', timeZone: 'europe/berlin' })
    const expected = nextCronTime(
      (parseCron('0 3 * * *') as { ok: true; cron: never }).cron,
      'Europe/Berlin',
      Date.now(),
    )
    expect(created).toMatchObject({ name: 'nightly', paused: false, going: 0, nextRunAt: expected })
    expect(created.spec).toMatchObject({
      timing: { kind: 'cron', cron: '0 3 * * *', timeZone: 'Europe/Berlin' },
      overlap: 'skip',
      catchup: 'last',
    })
    expect(
      (await s.post('/schedules', { name: 'nightly', intervalSeconds: 60, target: httpTarget() })).status,
    ).toBe(409)
    await createSchedule(s, { name: 'every-minute', intervalSeconds: 60 })
    const listed = await s.get('/schedules')
    expect((listed.body.items as Array<{ name: string }>).map((item) => item.name)).toEqual([
      'every-minute',
      'nightly',
    ])

    const deleted = await call('/v1/scheduler/schedules/nightly', { method: 'DELETE', token: s.token })
    expect(deleted).toMatchObject({ status: 200, body: { deleted: true } })
    expect((await s.get('/schedules/nightly')).status).toBe(404)
    expect((await call('/v1/scheduler/schedules/nightly', { method: 'DELETE', token: s.token })).status).toBe(
      404,
    )
    expect(await runDurableObjectAlarm(scheduleObject(s.tenant, 'nightly'))).toBe(false)
    // The name is free again.
    await createSchedule(s, { name: 'nightly', intervalSeconds: 3600 })
  })

  it('answer 400 to bad input and create nothing', async () => {
    const s = await client()
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ name: 'a', cron: '61 * * * *' }, 'body/cron'],
      [{ name: 'a', cron: '* * * *' }, 'body/cron'],
      [{ name: 'a', cron: '0 0 30 2 *' }, 'body/cron'],
      [{ name: 'a', cron: '0 9 * * *', timeZone: 'Mars/Olympus_Mons' }, 'body/timeZone'],
      [{ name: 'a', intervalSeconds: 0 }, 'body/intervalSeconds'],
      [{ name: 'a', intervalSeconds: 0.5 }, 'body/intervalSeconds'],
      [{ name: 'a', cron: '* * * * *', intervalSeconds: 60 }, 'body'],
      [{ name: 'a' }, 'body'],
      [{ name: 'a', intervalSeconds: 60, timeZone: 'UTC' }, 'body'],
      [{ name: 'a', intervalSeconds: 60, catchupWindowSeconds: 1 }, 'body/catchupWindowSeconds'],
      [{ name: 'a', intervalSeconds: 60, overlap: 'queue_all' }, 'body/overlap'],
      [
        { name: 'a', intervalSeconds: 60, target: { type: 'http', url: 'http://example.com/' } },
        'body/target/url',
      ],
      [{ name: '-bad', intervalSeconds: 60 }, 'body/name'],
    ]
    for (const [body, path] of cases) {
      const response = await s.post('/schedules', { target: httpTarget(), ...body })
      expect(response.status, JSON.stringify(body)).toBe(400)
      expect(problemCode(response.body)).toBe('validation_failed')
      const errors = response.body.errors as Array<{ path: string }>
      expect(
        errors.some((error) => error.path.startsWith(path)),
        `${JSON.stringify(body)} ${JSON.stringify(errors)}`,
      ).toBe(true)
    }
    expect((await s.get('/schedules')).body.items).toEqual([])
    expect((await s.get('/schedules/a')).status).toBe(404)
  })

  it('run each planned time as a task with retries; the run ends with its task', async () => {
    const hits = scriptTarget([500, 200])
    const s = await client()
    await createSchedule(s, {
      name: 'hourly',
      intervalSeconds: 3600,
      startAt: new Date(A).toISOString(),
      retry: { maxAttempts: 2, initialDelayMs: 100, maxDelayMs: 100 },
    })
    expect((await s.get('/schedules/hourly')).body.nextRunAt).toBe(A)
    await wake(s, 'hourly', A - 1)
    expect(await runsOf(s, 'hourly')).toEqual([])
    await wake(s, 'hourly', A)
    const [run] = await runsOf(s, 'hourly')
    expect(run).toMatchObject({ plannedAt: A, reason: 'schedule', status: 'running' })
    const task = await s.task(run?.taskId ?? '')
    expect(task.schedule).toEqual({ name: 'hourly', runId: run?.runId, plannedAt: A })

    await finishRun(run, A)
    expect((await runsOf(s, 'hourly'))[0]?.status).toBe('running')
    await finishRun(run, A + 1000)
    expect((await runsOf(s, 'hourly'))[0]?.status).toBe('succeeded')
    expect(hits.map((hit) => hit.headers['webhook-id'])).toEqual([run?.taskId, run?.taskId])
    expect((await s.get('/schedules/hourly')).body).toMatchObject({ going: 0, nextRunAt: A + HOUR })
  })
})

describe('overlap policies', () => {
  async function overlapping(policy: string) {
    scriptTarget()
    const s = await client()
    await createSchedule(s, {
      name: 'busy',
      intervalSeconds: 60,
      startAt: new Date(A).toISOString(),
      overlap: policy,
    })
    for (let minute = 0; minute <= 2; minute++) await wake(s, 'busy', A + minute * MINUTE)
    return s
  }

  it('skip: a run planned while another is going is skipped', async () => {
    const s = await overlapping('skip')
    const runs = await runsOf(s, 'busy')
    expect(statuses(runs)).toEqual(['0:running', '1:skipped', '2:skipped'])
    expect(runs[1]?.detail).toContain('still going')
    await finishRun(runs[0], A + 2 * MINUTE)
    await wake(s, 'busy', A + 3 * MINUTE)
    expect(statuses(await runsOf(s, 'busy'))).toEqual(['0:succeeded', '1:skipped', '2:skipped', '3:running'])
  })

  it('buffer_one: one waits and starts when the going run ends; more are skipped', async () => {
    const s = await overlapping('buffer_one')
    let runs = await runsOf(s, 'busy')
    expect(statuses(runs)).toEqual(['0:running', '1:buffered', '2:skipped'])
    await finishRun(runs[0], A + 2 * MINUTE)
    runs = await runsOf(s, 'busy')
    expect(statuses(runs)).toEqual(['0:succeeded', '1:running', '2:skipped'])
    await finishRun(runs[1], A + 2 * MINUTE)
    expect(statuses(await runsOf(s, 'busy'))).toEqual(['0:succeeded', '1:succeeded', '2:skipped'])
  })

  it('allow_all: every run starts', async () => {
    const s = await overlapping('allow_all')
    expect(statuses(await runsOf(s, 'busy'))).toEqual(['0:running', '1:running', '2:running'])
    expect((await s.get('/schedules/busy')).body).toMatchObject({ going: 3, buffered: 0 })
  })
})

describe('catch-up after downtime', () => {
  it('all: runs every time inside the window, records the older ones as missed', async () => {
    scriptTarget()
    const s = await client()
    await createSchedule(s, {
      name: 'late',
      intervalSeconds: 60,
      startAt: new Date(A).toISOString(),
      overlap: 'allow_all',
      catchup: 'all',
      catchupWindowSeconds: 300,
    })
    await wake(s, 'late', A + 20 * MINUTE)
    const runs = await runsOf(s, 'late')
    expect(statuses(runs)).toEqual([
      '0:missed',
      '15:running',
      '16:running',
      '17:running',
      '18:running',
      '19:running',
      '20:running',
    ])
    expect(runs[0]?.detail).toContain(`to ${new Date(A + 14 * MINUTE).toISOString()}`)
    expect((await s.get('/schedules/late')).body.nextRunAt).toBe(A + 21 * MINUTE)
  })

  it('last: runs only the latest planned time', async () => {
    scriptTarget()
    const s = await client()
    await createSchedule(s, {
      name: 'late',
      intervalSeconds: 60,
      startAt: new Date(A).toISOString(),
      catchup: 'last',
      catchupWindowSeconds: 300,
    })
    await wake(s, 'late', A + 20 * MINUTE + 30_000)
    expect(statuses(await runsOf(s, 'late'))).toEqual(['0:missed', '20:running'])
  })
})

describe('pause, resume and trigger', () => {
  it('a paused schedule runs nothing; resuming starts from now without catching up; trigger runs now', async () => {
    scriptTarget()
    const s = await client()
    await createSchedule(s, { name: 'p', intervalSeconds: 3600, startAt: new Date(A).toISOString() })
    const paused = await s.post('/schedules/p/pause', { note: 'maintenance' })
    expect(paused.body).toMatchObject({ paused: true, pauseNote: 'maintenance', nextRunAt: null })
    await wake(s, 'p', A + 30 * MINUTE)
    expect(await runsOf(s, 'p')).toEqual([])

    const triggered = await s.post('/schedules/p/trigger')
    expect(triggered.body).toMatchObject({ reason: 'trigger', status: 'running' })
    const [run] = await runsOf(s, 'p')
    expect(run).toMatchObject({ reason: 'trigger', status: 'running', plannedAt: A + 30 * MINUTE })
    await finishRun(run, A + 30 * MINUTE)

    await setClock(scheduleObject(s.tenant, 'p'), A + 2 * HOUR + 30 * MINUTE)
    const resumed = await s.post('/schedules/p/resume')
    expect(resumed.body).toMatchObject({ paused: false, nextRunAt: A + 3 * HOUR })
    await wake(s, 'p', A + 3 * HOUR)
    const runs = await runsOf(s, 'p')
    expect(runs.map((item) => [item.reason, item.status, item.plannedAt])).toEqual([
      ['trigger', 'succeeded', A + 30 * MINUTE],
      ['schedule', 'running', A + 3 * HOUR],
    ])
  })

  it('trigger follows the overlap policy', async () => {
    scriptTarget()
    const s = await client()
    await createSchedule(s, {
      name: 't',
      intervalSeconds: 3600,
      startAt: new Date(A).toISOString(),
      overlap: 'skip',
    })
    await wake(s, 't', A)
    const second = await s.post('/schedules/t/trigger')
    expect(second.body).toMatchObject({ reason: 'trigger', status: 'skipped' })
  })

  it('jitter delays each run by a stable amount below the jitter', async () => {
    const s = await client()
    const created = await createSchedule(s, {
      name: 'j',
      intervalSeconds: 3600,
      startAt: new Date(A).toISOString(),
      jitterSeconds: 600,
    })
    const nextRunAt = created.nextRunAt as number
    expect(nextRunAt).toBeGreaterThanOrEqual(A)
    expect(nextRunAt).toBeLessThan(A + 600_000)
    await wake(s, 'j', nextRunAt - 1)
    expect(await runsOf(s, 'j')).toEqual([])
    await wake(s, 'j', nextRunAt)
    expect(statuses(await runsOf(s, 'j'))).toEqual(['0:running'])
  })
})

describe('tenancy', () => {
  it("no tenant reaches another's schedules", async () => {
    const a = await client()
    await createSchedule(a, { name: 'mine', intervalSeconds: 3600 })
    const b = await client()
    const other = await tokenFor(b.tenant, ['scheduler:read', 'scheduler:write'])
    expect((await call('/v1/scheduler/schedules/mine', { token: other })).status).toBe(404)
    expect(
      (await call('/v1/scheduler/schedules/mine/trigger', { method: 'POST', token: other })).status,
    ).toBe(404)
    expect((await call('/v1/scheduler/schedules/mine', { method: 'DELETE', token: other })).status).toBe(404)
    expect((await b.get('/schedules')).body.items).toEqual([])
    expect((await a.get('/schedules/mine')).status).toBe(200)
  })
})

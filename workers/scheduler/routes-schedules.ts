/**
 * Recurring schedules, `/v1/scheduler/schedules`: create (registered in libSQL as a
 * resource of kind `schedule` for listing, then its own Durable Object is configured),
 * list, get (live state from the object), delete, pause, resume, trigger now, run history.
 */
import { Hono } from 'hono'
import { Deleted, NameParam, PageQuery } from '../../schemas/common'
import { CreateScheduleRequest, PauseRequest, RunListQuery } from '../../schemas/scheduler'
import { RunList, RunResponse, ScheduleList, ScheduleResponse } from '../../schemas/scheduler-responses'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import type { Env } from '../platform/env'
import { describe } from '../platform/openapi'
import { createResource, deleteResource, getResource, listResources } from '../platform/registry'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { scheduleStub } from './object'
import { checkCron, checkTarget, scheduleSpecOf } from './route-helpers'
import type { ScheduleSpec } from './schedule-store'

const tags = ['scheduler']
const KIND = 'schedule'

/** The stub of a tenant's schedule; 404 when the registry has no schedule of that name. */
async function existingSchedule(env: Env, tenant: string, name: string) {
  await getResource(env, tenant, KIND, name)
  return scheduleStub(env, tenant, name)
}

export const scheduleRoutes = new Hono<AuthEnv>()
  .post(
    '/',
    describe({
      tags,
      summary: 'Create a recurring schedule (cron in a time zone, or a fixed interval)',
      description:
        'Overlap policy when a run is still going (`skip`, `buffer_one`, `allow_all`), catch-up after downtime ' +
        '(`all` or `last` within `catchupWindowSeconds`), jitter. Each run is a task with retries.',
      scope: 'scheduler:write',
      responses: { 201: { description: 'The schedule', schema: ScheduleResponse } },
      problems: [409],
    }),
    requireScope('scheduler:write'),
    validate('json', CreateScheduleRequest),
    async function createSchedule(c) {
      const tenant = tenantOf(c)
      const input = c.req.valid('json')
      checkCron(input.cron)
      checkTarget(c.env, input.target)
      const spec = scheduleSpecOf(input, Date.now())
      await createResource<ScheduleSpec>(c.env, tenant, KIND, input.name, spec)
      try {
        return c.json(
          await scheduleStub(c.env, tenant, input.name).create(tenant, input.name, spec, input.paused),
          201,
        )
      } catch (error) {
        await deleteResource(c.env, tenant, KIND, input.name)
        throw error
      }
    },
  )
  .get(
    '/',
    describe({
      tags,
      summary: "List the tenant's schedules by name",
      scope: 'scheduler:read',
      responses: { 200: { description: 'A page of schedules', schema: ScheduleList } },
    }),
    requireScope('scheduler:read'),
    validate('query', PageQuery),
    async function listSchedules(c) {
      const { limit, cursor } = c.req.valid('query')
      const page = await listResources<ScheduleSpec>(c.env, tenantOf(c), KIND, { limit, cursor })
      return c.json({
        items: page.items.map((item) => ({ name: item.name, spec: item.config, createdAt: item.createdAt })),
        ...(page.nextCursor ? { nextCursor: page.nextCursor } : {}),
      })
    },
  )
  .get(
    '/:name',
    describe({
      tags,
      summary: 'A schedule: spec, paused or not, next run, runs going and buffered',
      scope: 'scheduler:read',
      responses: { 200: { description: 'The schedule', schema: ScheduleResponse } },
      problems: [404],
    }),
    requireScope('scheduler:read'),
    validate('param', NameParam),
    async function getSchedule(c) {
      const schedule = await existingSchedule(c.env, tenantOf(c), c.req.valid('param').name)
      return c.json(await schedule.describe())
    },
  )
  .delete(
    '/:name',
    describe({
      tags,
      summary: 'Delete a schedule and its run history (a run already going finishes)',
      scope: 'scheduler:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('scheduler:write'),
    validate('param', NameParam),
    async function deleteSchedule(c) {
      const tenant = tenantOf(c)
      const { name } = c.req.valid('param')
      await (await existingSchedule(c.env, tenant, name)).remove()
      await deleteResource(c.env, tenant, KIND, name)
      return c.json({ deleted: true })
    },
  )
  .post(
    '/:name/pause',
    describe({
      tags,
      summary: 'Pause: no planned runs until resumed (trigger still works)',
      scope: 'scheduler:write',
      responses: { 200: { description: 'The schedule', schema: ScheduleResponse } },
      problems: [404],
    }),
    requireScope('scheduler:write'),
    validate('param', NameParam),
    validate('json', PauseRequest),
    async function pauseSchedule(c) {
      const schedule = await existingSchedule(c.env, tenantOf(c), c.req.valid('param').name)
      return c.json(await schedule.pause(c.req.valid('json').note ?? null))
    },
  )
  .post(
    '/:name/resume',
    describe({
      tags,
      summary: 'Resume from now (times planned while paused are not caught up)',
      scope: 'scheduler:write',
      responses: { 200: { description: 'The schedule', schema: ScheduleResponse } },
      problems: [404],
    }),
    requireScope('scheduler:write'),
    validate('param', NameParam),
    async function resumeSchedule(c) {
      const schedule = await existingSchedule(c.env, tenantOf(c), c.req.valid('param').name)
      return c.json(await schedule.resume())
    },
  )
  .post(
    '/:name/trigger',
    describe({
      tags,
      summary: 'Run now, outside the plan, under the overlap policy',
      scope: 'scheduler:write',
      responses: { 200: { description: 'The run: running, buffered or skipped', schema: RunResponse } },
      problems: [404],
    }),
    requireScope('scheduler:write'),
    validate('param', NameParam),
    async function triggerSchedule(c) {
      const schedule = await existingSchedule(c.env, tenantOf(c), c.req.valid('param').name)
      return c.json(await schedule.trigger())
    },
  )
  .get(
    '/:name/runs',
    describe({
      tags,
      summary: 'The run history, latest first (the last 100 runs)',
      scope: 'scheduler:read',
      responses: { 200: { description: 'Runs', schema: RunList } },
      problems: [404],
    }),
    requireScope('scheduler:read'),
    validate('param', NameParam),
    validate('query', RunListQuery),
    async function listRuns(c) {
      const schedule = await existingSchedule(c.env, tenantOf(c), c.req.valid('param').name)
      return c.json({ items: await schedule.runs(c.req.valid('query').limit) })
    },
  )

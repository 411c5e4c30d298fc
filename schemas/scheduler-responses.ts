/**
 * Response schemas of the task scheduler block (`/v1/scheduler`): tasks with their attempt
 * history, schedules, runs and tenant limits. They document the answers in the OpenAPI
 * document; the handlers build the answers from the objects' views.
 */
import * as v from 'valibot'
import { LimitsRequest, Target } from './scheduler'

const Attempt = v.object({
  attempt: v.number(),
  startedAt: v.number(),
  durationMs: v.number(),
  status: v.picklist(['succeeded', 'failed']),
  responseCode: v.optional(v.number()),
  error: v.optional(v.string()),
})

export const TaskResponse = v.object({
  id: v.string(),
  status: v.picklist(['scheduled', 'running', 'succeeded', 'failed', 'cancelled']),
  priority: v.picklist(['high', 'normal', 'low']),
  target: Target,
  runAt: v.number(),
  dueAt: v.nullable(v.number()),
  attempts: v.number(),
  retry: v.object({ maxAttempts: v.number(), initialDelayMs: v.number(), maxDelayMs: v.number() }),
  timeoutMs: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
  finishedAt: v.nullable(v.number()),
  lastError: v.nullable(v.string()),
  lastResponseCode: v.nullable(v.number()),
  schedule: v.nullable(v.object({ name: v.string(), runId: v.string(), plannedAt: v.number() })),
  history: v.optional(v.array(Attempt)),
})

export const TaskList = v.object({ items: v.array(TaskResponse), nextCursor: v.optional(v.string()) })

export const ScheduleResponse = v.object({
  name: v.string(),
  spec: v.record(v.string(), v.unknown()),
  paused: v.boolean(),
  pauseNote: v.nullable(v.string()),
  nextRunAt: v.nullable(v.number()),
  going: v.number(),
  buffered: v.number(),
  createdAt: v.number(),
  updatedAt: v.number(),
})

export const ScheduleList = v.object({
  items: v.array(
    v.object({ name: v.string(), spec: v.record(v.string(), v.unknown()), createdAt: v.number() }),
  ),
  nextCursor: v.optional(v.string()),
})

export const RunResponse = v.object({
  runId: v.string(),
  plannedAt: v.number(),
  reason: v.picklist(['schedule', 'trigger']),
  status: v.picklist([
    'starting',
    'running',
    'buffered',
    'succeeded',
    'failed',
    'cancelled',
    'skipped',
    'missed',
  ]),
  taskId: v.nullable(v.string()),
  startedAt: v.nullable(v.number()),
  finishedAt: v.nullable(v.number()),
  detail: v.nullable(v.string()),
})

export const RunList = v.object({ items: v.array(RunResponse) })

export const LimitsResponse = v.object({
  limits: LimitsRequest,
  inFlight: v.number(),
  tokens: v.number(),
})

export const SigningSecret = v.object({ secret: v.string() })

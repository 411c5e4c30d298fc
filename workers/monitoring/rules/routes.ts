/**
 * `/v1/monitoring` routes of the rules half: rule files (Prometheus rule-file YAML),
 * webhook receivers (Alertmanager webhook payloads signed per Standard Webhooks) and
 * silences. The Prometheus views `/api/v1/rules` and `/api/v1/alerts` are in
 * prometheus-routes.ts and read the same object.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { Deleted, NameParam } from '../../../schemas/common'
import {
  DeadLetter,
  ReceiverInput,
  ReceiverView,
  RULES_LIMITS,
  RuleFileView,
  SilenceInput,
  SilenceParam,
  SilenceView,
} from '../../../schemas/monitoring-rules'
import { type AuthEnv, requireScope } from '../../platform/auth/middleware'
import { AppError } from '../../platform/errors'
import { describe } from '../../platform/openapi'
import { tenantOf } from '../../platform/tenancy'
import { validate } from '../../platform/validation'
import { rulesObject } from './object'

const tags = ['monitoring (rules and alerts)']

export const rulesRoutes = new Hono<AuthEnv>()
  .get(
    '/rule-files',
    describe({
      tags,
      summary: "The tenant's rule files",
      scope: 'monitoring:read',
      responses: { 200: { description: 'Rule files', schema: v.object({ files: v.array(RuleFileView) }) } },
    }),
    requireScope('monitoring:read'),
    async function listRuleFiles(c) {
      return c.json({ files: await rulesObject(c.env, tenantOf(c)).listFiles() })
    },
  )
  .put(
    '/rule-files/:name',
    describe({
      tags,
      summary: 'Create or replace a rule file (Prometheus rule-file YAML)',
      description:
        'The body is a Prometheus rule file (`application/yaml` or `text/plain`): `groups:` of recording and ' +
        'alerting rules. The whole file is checked first (YAML, fields, PromQL, durations, templates); a bad ' +
        'file answers 400 listing each problem and changes nothing. Groups whose rules did not change keep ' +
        'their alerts; changed groups start afresh. Each group is evaluated every `interval` (default 1m).',
      scope: 'monitoring:write',
      responses: { 200: { description: 'The stored file', schema: RuleFileView } },
      problems: [409, 413, 415],
    }),
    requireScope('monitoring:write'),
    validate('param', NameParam),
    async function putRuleFile(c) {
      const type = c.req.header('content-type') ?? ''
      if (!/^(application\/(x-)?yaml|text\/(x-)?yaml|text\/plain)\b/.test(type))
        throw new AppError('unsupported_media_type', 'Send the rule file as application/yaml or text/plain.')
      const bytes = new Uint8Array(await c.req.arrayBuffer())
      const text = new TextDecoder().decode(bytes)
      if (bytes.length > RULES_LIMITS.maxFileBytes)
        throw new AppError('payload_too_large', `A rule file is at most ${RULES_LIMITS.maxFileBytes} bytes.`)
      return c.json(
        await rulesObject(c.env, tenantOf(c)).putFile(tenantOf(c), c.req.valid('param').name, text),
      )
    },
  )
  .get(
    '/rule-files/:name',
    describe({
      tags,
      summary: 'A rule file as uploaded (YAML)',
      scope: 'monitoring:read',
      responses: { 200: { description: 'The YAML text', mediaType: 'application/yaml' } },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', NameParam),
    async function getRuleFile(c) {
      const { yaml } = await rulesObject(c.env, tenantOf(c)).getFile(c.req.valid('param').name)
      return c.body(yaml, 200, { 'content-type': 'application/yaml; charset=utf-8' })
    },
  )
  .delete(
    '/rule-files/:name',
    describe({
      tags,
      summary: 'Delete a rule file, its groups and their alerts',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', NameParam),
    async function deleteRuleFile(c) {
      await rulesObject(c.env, tenantOf(c)).deleteFile(c.req.valid('param').name)
      return c.json({ deleted: true })
    },
  )
  .get(
    '/receivers',
    describe({
      tags,
      summary: 'Webhook receivers of alert notifications',
      scope: 'monitoring:read',
      responses: {
        200: { description: 'Receivers', schema: v.object({ receivers: v.array(ReceiverView) }) },
      },
    }),
    requireScope('monitoring:read'),
    async function listReceivers(c) {
      return c.json({ receivers: await rulesObject(c.env, tenantOf(c)).listReceivers() })
    },
  )
  .put(
    '/receivers/:name',
    describe({
      tags,
      summary: 'Create or replace a webhook receiver',
      description:
        'Notifications are POSTed in the Alertmanager webhook format (version 4), one per rule and evaluation ' +
        'with the alerts that started firing, are still firing after `repeatIntervalSeconds`, or resolved; ' +
        'signed per Standard Webhooks with the receiver secret (returned when created or replaced). ' +
        'At least once: retried with backoff, dead-lettered after the last attempt.',
      scope: 'monitoring:write',
      responses: { 200: { description: 'The receiver', schema: ReceiverView } },
      problems: [409],
    }),
    requireScope('monitoring:write'),
    validate('param', NameParam),
    validate('json', ReceiverInput),
    async function putReceiver(c) {
      const tenant = tenantOf(c)
      return c.json(
        await rulesObject(c.env, tenant).putReceiver(tenant, c.req.valid('param').name, c.req.valid('json')),
      )
    },
  )
  .get(
    '/receivers/:name',
    describe({
      tags,
      summary: 'A receiver and its delivery state',
      scope: 'monitoring:read',
      responses: { 200: { description: 'The receiver', schema: ReceiverView } },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', NameParam),
    async function getReceiver(c) {
      return c.json(await rulesObject(c.env, tenantOf(c)).getReceiver(c.req.valid('param').name))
    },
  )
  .delete(
    '/receivers/:name',
    describe({
      tags,
      summary: 'Delete a receiver and its pending notifications',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', NameParam),
    async function deleteReceiver(c) {
      await rulesObject(c.env, tenantOf(c)).deleteReceiver(c.req.valid('param').name)
      return c.json({ deleted: true })
    },
  )
  .get(
    '/receivers/:name/dead-letters',
    describe({
      tags,
      summary: 'Notifications given up after their last attempt (the oldest 100)',
      scope: 'monitoring:read',
      responses: {
        200: { description: 'Dead letters', schema: v.object({ deadLetters: v.array(DeadLetter) }) },
      },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', NameParam),
    async function deadLetters(c) {
      return c.json({
        deadLetters: await rulesObject(c.env, tenantOf(c)).deadLetters(c.req.valid('param').name),
      })
    },
  )
  .get(
    '/silences',
    describe({
      tags,
      summary: 'Silences (active, pending and expired)',
      scope: 'monitoring:read',
      responses: { 200: { description: 'Silences', schema: v.object({ silences: v.array(SilenceView) }) } },
    }),
    requireScope('monitoring:read'),
    async function listSilences(c) {
      return c.json({ silences: await rulesObject(c.env, tenantOf(c)).listSilences() })
    },
  )
  .post(
    '/silences',
    describe({
      tags,
      summary: 'Silence notifications of alerts matching every matcher, from startsAt to endsAt',
      scope: 'monitoring:write',
      responses: { 200: { description: 'The silence', schema: SilenceView } },
      problems: [409],
    }),
    requireScope('monitoring:write'),
    validate('json', SilenceInput),
    async function addSilence(c) {
      const tenant = tenantOf(c)
      return c.json(await rulesObject(c.env, tenant).addSilence(tenant, c.req.valid('json')))
    },
  )
  .delete(
    '/silences/:silence',
    describe({
      tags,
      summary: 'Expire a silence now',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Expired', schema: Deleted } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', SilenceParam),
    async function expireSilence(c) {
      await rulesObject(c.env, tenantOf(c)).expireSilence(c.req.valid('param').silence)
      return c.json({ deleted: true })
    },
  )

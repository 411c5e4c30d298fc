/**
 * `/v1/search/indexes/{indexUid}/settings`: all settings (GET, PATCH, DELETE to reset) and
 * one route per setting (`/settings/ranking-rules`, `/settings/typo-tolerance`, …) the way
 * Meilisearch names them. Updates are tasks; a settings change applies to the next search
 * without reindexing.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { EnqueuedTask, IndexUidParam, SettingsBody, SettingsFields } from '../../schemas/search'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { getIndex } from './indexes'
import { defaultSettings, type Settings, type SettingsPatch } from './logic/settings'
import { accepted } from './wire'
import { updateSettingsTask } from './writes'

const tags = ['search']
const taskResponse = { 202: { description: 'The task', schema: EnqueuedTask } }

const kebab = (name: string) => name.replace(/[A-Z]/g, (letter) => `-${letter.toLowerCase()}`)

export const settingsRoutes = new Hono<AuthEnv>()
  .get(
    '/:indexUid/settings',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'All settings of an index',
      scope: 'search:read',
      responses: { 200: { description: 'Settings' } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    async function getSettingsRoute(c) {
      return c.json((await getIndex(c.env, tenantOf(c), c.req.valid('param').indexUid)).config.settings)
    },
  )
  .patch(
    '/:indexUid/settings',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Update settings (null resets one)',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    validate('json', SettingsBody),
    async function updateSettingsRoute(c) {
      const patch = c.req.valid('json') as SettingsPatch
      return accepted(c, await updateSettingsTask(c.env, tenantOf(c), c.req.valid('param').indexUid, patch))
    },
  )
  .delete(
    '/:indexUid/settings',
    describe({
      wire: 'meilisearch',
      tags,
      summary: 'Reset every setting',
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    async function resetSettingsRoute(c) {
      const reset = Object.fromEntries(
        Object.keys(defaultSettings()).map((key) => [key, null]),
      ) as SettingsPatch
      return accepted(c, await updateSettingsTask(c.env, tenantOf(c), c.req.valid('param').indexUid, reset))
    },
  )

for (const name of Object.keys(SettingsFields) as Array<keyof typeof SettingsFields & keyof Settings>) {
  const path = `/:indexUid/settings/${kebab(name)}`
  const schema = v.nonOptional(SettingsFields[name])
  settingsRoutes.get(
    path,
    describe({
      wire: 'meilisearch',
      tags,
      summary: `Setting ${name}`,
      scope: 'search:read',
      responses: { 200: { description: name } },
    }),
    requireScope('search:read'),
    validate('param', IndexUidParam),
    async function getSettingRoute(c) {
      return c.json((await getIndex(c.env, tenantOf(c), c.req.valid('param').indexUid)).config.settings[name])
    },
  )
  for (const method of ['put', 'patch'] as const) {
    settingsRoutes[method](
      path,
      describe({
        wire: 'meilisearch',
        tags,
        summary: `Update ${name}`,
        scope: 'search:write',
        responses: taskResponse,
      }),
      requireScope('search:write'),
      validate('param', IndexUidParam),
      validate('json', schema),
      async function updateSettingRoute(c) {
        const patch = { [name]: c.req.valid('json') } as SettingsPatch
        return accepted(c, await updateSettingsTask(c.env, tenantOf(c), c.req.valid('param').indexUid, patch))
      },
    )
  }
  settingsRoutes.delete(
    path,
    describe({
      wire: 'meilisearch',
      tags,
      summary: `Reset ${name}`,
      scope: 'search:write',
      responses: taskResponse,
    }),
    requireScope('search:write'),
    validate('param', IndexUidParam),
    async function resetSettingRoute(c) {
      const patch = { [name]: null } as SettingsPatch
      return accepted(c, await updateSettingsTask(c.env, tenantOf(c), c.req.valid('param').indexUid, patch))
    },
  )
}

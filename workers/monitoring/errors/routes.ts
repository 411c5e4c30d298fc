/**
 * `/v1/monitoring/projects`: client-side error projects (Sentry-compatible), their DSN keys,
 * issues and release files (source maps). Events arrive on Sentry's own wire
 * (ingest-routes.ts).
 */
import { type Context, Hono } from 'hono'
import * as v from 'valibot'
import { Deleted } from '../../../schemas/common'
import {
  ERRORS_LIMITS,
  IssueDetail,
  IssueList,
  IssueParam,
  IssuePatch,
  IssuesQuery,
  KeyParam,
  KeyView,
  ProjectInput,
  ProjectParam,
  ProjectPatch,
  ProjectView,
  ReleaseFileQuery,
  ReleaseFileView,
  ReleaseParam,
} from '../../../schemas/monitoring-errors'
import { type AuthEnv, requireScope } from '../../platform/auth/middleware'
import { AppError } from '../../platform/errors'
import { describe } from '../../platform/openapi'
import { tenantOf } from '../../platform/tenancy'
import { validate } from '../../platform/validation'
import { errorProject } from './object'
import { errorProjects } from './registry'

const tags = ['monitoring (client-side errors)']
const origin = (c: Context) => new URL(c.req.url).origin

export const errorRoutes = new Hono<AuthEnv>()
  .post(
    '/projects',
    describe({
      tags,
      summary: 'Create a client-side error project (with one DSN key)',
      description:
        'Point a Sentry SDK at `keys[0].dsn`. `eventsPerMinute` (default 1000) bounds ingest; ' +
        "`alerts.newIssues` (default true) notifies the tenant's webhook receivers of each new issue; " +
        '`alerts.spikeMinEvents` (default 50): a minute with at least this many events and 3× the last ' +
        "hour's mean is notified as a spike.",
      scope: 'monitoring:write',
      responses: { 201: { description: 'The project', schema: ProjectView } },
      problems: [409],
    }),
    requireScope('monitoring:write'),
    validate('json', ProjectInput),
    async function createProject(c) {
      const tenant = tenantOf(c)
      const input = c.req.valid('json')
      const id = await errorProjects(c.env, tenant).create(input.name)
      const project = errorProject(c.env, tenant, id)
      await project.init(tenant, id, input)
      return c.json(await project.view(origin(c)), 201)
    },
  )
  .get(
    '/projects',
    describe({
      tags,
      summary: "The tenant's client-side error projects",
      scope: 'monitoring:read',
      responses: { 200: { description: 'Projects', schema: v.object({ projects: v.array(ProjectView) }) } },
    }),
    requireScope('monitoring:read'),
    async function listProjects(c) {
      const tenant = tenantOf(c)
      const ids = await errorProjects(c.env, tenant).ids()
      return c.json({
        projects: await Promise.all(ids.map((id) => errorProject(c.env, tenant, id).view(origin(c)))),
      })
    },
  )
  .get(
    '/projects/:project',
    describe({
      tags,
      summary: 'A project: settings, DSN keys and counters',
      scope: 'monitoring:read',
      responses: { 200: { description: 'The project', schema: ProjectView } },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', ProjectParam),
    async function getProject(c) {
      return c.json(await errorProject(c.env, tenantOf(c), c.req.valid('param').project).view(origin(c)))
    },
  )
  .patch(
    '/projects/:project',
    describe({
      tags,
      summary: "Change a project's name, rate limit or alerts",
      scope: 'monitoring:write',
      responses: { 200: { description: 'The project', schema: ProjectView } },
      problems: [404, 409],
    }),
    requireScope('monitoring:write'),
    validate('param', ProjectParam),
    validate('json', ProjectPatch),
    async function patchProject(c) {
      const tenant = tenantOf(c)
      const { project: id } = c.req.valid('param')
      const patch = c.req.valid('json')
      const project = errorProject(c.env, tenant, id)
      await project.view(origin(c))
      if (patch.name !== undefined) await errorProjects(c.env, tenant).rename(id, patch.name)
      await project.configure(patch)
      return c.json(await project.view(origin(c)))
    },
  )
  .delete(
    '/projects/:project',
    describe({
      tags,
      summary: 'Delete a project with its keys, issues, events and release files',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', ProjectParam),
    async function deleteProject(c) {
      const tenant = tenantOf(c)
      const { project } = c.req.valid('param')
      await errorProjects(c.env, tenant).remove(project)
      await errorProject(c.env, tenant, project).destroy()
      return c.json({ deleted: true })
    },
  )
  .post(
    '/projects/:project/keys',
    describe({
      tags,
      summary: 'Issue another DSN key (e.g. to rotate one)',
      scope: 'monitoring:write',
      responses: { 201: { description: 'The key', schema: KeyView } },
      problems: [404, 409],
    }),
    requireScope('monitoring:write'),
    validate('param', ProjectParam),
    async function addKey(c) {
      return c.json(
        await errorProject(c.env, tenantOf(c), c.req.valid('param').project).addKey(origin(c)),
        201,
      )
    },
  )
  .delete(
    '/projects/:project/keys/:key',
    describe({
      tags,
      summary: 'Revoke a DSN key: its events are refused from now on',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', KeyParam),
    async function deleteKey(c) {
      const { project, key } = c.req.valid('param')
      await errorProject(c.env, tenantOf(c), project).deleteKey(key)
      return c.json({ deleted: true })
    },
  )
  .get(
    '/projects/:project/issues',
    describe({
      tags,
      summary: 'Issues (grouped events), most recently seen first',
      description:
        "`stacktrace` is the main exception's frames as Sentry orders them (outermost first, the crashing frame " +
        "last), de-minified with the release's source maps. `status` is unresolved, resolved, ignored or " +
        'regressed (resolved, then seen again in a release first seen after the resolution).',
      scope: 'monitoring:read',
      responses: { 200: { description: 'A page of issues', schema: IssueList } },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', ProjectParam),
    validate('query', IssuesQuery),
    async function listIssues(c) {
      const { limit, cursor, status } = c.req.valid('query')
      return c.json(
        await errorProject(c.env, tenantOf(c), c.req.valid('param').project).listIssues(
          limit,
          cursor,
          status,
        ),
      )
    },
  )
  .get(
    '/projects/:project/issues/:issue',
    describe({
      tags,
      summary: 'An issue with its releases and latest event',
      scope: 'monitoring:read',
      responses: { 200: { description: 'The issue', schema: IssueDetail } },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', IssueParam),
    async function getIssue(c) {
      const { project, issue } = c.req.valid('param')
      return c.json(await errorProject(c.env, tenantOf(c), project).getIssue(Number(issue)))
    },
  )
  .patch(
    '/projects/:project/issues/:issue',
    describe({
      tags,
      summary: 'Resolve, reopen or ignore an issue',
      scope: 'monitoring:write',
      responses: { 200: { description: 'The issue', schema: IssueDetail } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', IssueParam),
    validate('json', IssuePatch),
    async function patchIssue(c) {
      const { project, issue } = c.req.valid('param')
      return c.json(
        await errorProject(c.env, tenantOf(c), project).setStatus(Number(issue), c.req.valid('json').status),
      )
    },
  )
  .post(
    '/projects/:project/releases/:release/files',
    describe({
      tags,
      summary: 'Upload a release file: a source map named after its minified file plus `.map`',
      description:
        'The body is the file (any content type); `?name=~/static/app.min.js.map` names it, `~` standing for ' +
        'any origin. Frames of events of this release in `…/static/app.min.js` are de-minified with it from ' +
        'the next event on. Uploading the same name again replaces the file.',
      scope: 'monitoring:write',
      responses: { 201: { description: 'Stored', schema: ReleaseFileView } },
      problems: [404, 409, 413],
    }),
    requireScope('monitoring:write'),
    validate('param', ReleaseParam),
    validate('query', ReleaseFileQuery),
    async function uploadFile(c) {
      const { project, release } = c.req.valid('param')
      const bytes = new Uint8Array(await c.req.arrayBuffer())
      if (bytes.length > ERRORS_LIMITS.maxFileBytes)
        throw new AppError(
          'payload_too_large',
          `A release file is at most ${ERRORS_LIMITS.maxFileBytes} bytes.`,
        )
      const name = c.req.valid('query').name
      return c.json(await errorProject(c.env, tenantOf(c), project).putFile(release, name, bytes), 201)
    },
  )
  .get(
    '/projects/:project/releases/:release/files',
    describe({
      tags,
      summary: "A release's files",
      scope: 'monitoring:read',
      responses: { 200: { description: 'Files', schema: v.object({ files: v.array(ReleaseFileView) }) } },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', ReleaseParam),
    async function listFiles(c) {
      const { project, release } = c.req.valid('param')
      return c.json({ files: await errorProject(c.env, tenantOf(c), project).listFiles(release) })
    },
  )
  .delete(
    '/projects/:project/releases/:release/files',
    describe({
      tags,
      summary: 'Delete a release file (`?name=`)',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', ReleaseParam),
    validate('query', ReleaseFileQuery),
    async function deleteFile(c) {
      const { project, release } = c.req.valid('param')
      await errorProject(c.env, tenantOf(c), project).deleteFile(release, c.req.valid('query').name)
      return c.json({ deleted: true })
    },
  )

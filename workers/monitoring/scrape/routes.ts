/**
 * `/v1/monitoring/scrape-jobs`: the tenant's scrape jobs (targets serving the Prometheus
 * text format, scraped on an interval by the platform) and each target's health.
 */
import { Hono } from 'hono'
import * as v from 'valibot'
import { Deleted, NameParam } from '../../../schemas/common'
import { ScrapeJobInput, ScrapeJobView } from '../../../schemas/monitoring-scrape'
import { type AuthEnv, requireScope } from '../../platform/auth/middleware'
import { describe } from '../../platform/openapi'
import { tenantOf } from '../../platform/tenancy'
import { validate } from '../../platform/validation'
import { scrapesObject } from './object'

const tags = ['monitoring (scrape jobs)']

export const scrapeRoutes = new Hono<AuthEnv>()
  .get(
    '/scrape-jobs',
    describe({
      tags,
      summary: "The tenant's scrape jobs with their targets' health",
      scope: 'monitoring:read',
      responses: { 200: { description: 'Scrape jobs', schema: v.object({ jobs: v.array(ScrapeJobView) }) } },
    }),
    requireScope('monitoring:read'),
    async function listScrapeJobs(c) {
      return c.json({ jobs: await scrapesObject(c.env, tenantOf(c)).listJobs() })
    },
  )
  .put(
    '/scrape-jobs/:name',
    describe({
      tags,
      summary: 'Create or replace a scrape job',
      description:
        'Every `intervalSeconds` (10–3600) the platform fetches each target URL (text format 0.0.4) within ' +
        '`timeoutSeconds` and stores its samples labelled `job` (the job name), `instance` (host:port) and ' +
        '`labels`, plus `up`, `scrape_duration_seconds` and `scrape_samples_scraped`. A failed scrape ' +
        '(error status, timeout, malformed body, over 10,000 samples) stores only `up` = 0. A new or ' +
        'changed job is first scraped one interval after it is stored.',
      scope: 'monitoring:write',
      responses: { 200: { description: 'The scrape job', schema: ScrapeJobView } },
      problems: [409],
    }),
    requireScope('monitoring:write'),
    validate('param', NameParam),
    validate('json', ScrapeJobInput),
    async function putScrapeJob(c) {
      const tenant = tenantOf(c)
      return c.json(
        await scrapesObject(c.env, tenant).putJob(tenant, c.req.valid('param').name, c.req.valid('json')),
      )
    },
  )
  .get(
    '/scrape-jobs/:name',
    describe({
      tags,
      summary: 'A scrape job and the health of its targets',
      scope: 'monitoring:read',
      responses: { 200: { description: 'The scrape job', schema: ScrapeJobView } },
      problems: [404],
    }),
    requireScope('monitoring:read'),
    validate('param', NameParam),
    async function getScrapeJob(c) {
      return c.json(await scrapesObject(c.env, tenantOf(c)).getJob(c.req.valid('param').name))
    },
  )
  .delete(
    '/scrape-jobs/:name',
    describe({
      tags,
      summary: 'Delete a scrape job (its stored series stay)',
      scope: 'monitoring:write',
      responses: { 200: { description: 'Deleted', schema: Deleted } },
      problems: [404],
    }),
    requireScope('monitoring:write'),
    validate('param', NameParam),
    async function deleteScrapeJob(c) {
      await scrapesObject(c.env, tenantOf(c)).deleteJob(c.req.valid('param').name)
      return c.json({ deleted: true })
    },
  )

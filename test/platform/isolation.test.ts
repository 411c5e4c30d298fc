/**
 * The tenant-isolation sweep: tenant A owns one resource of every kind
 * (test/support/resource-kinds.ts); tenant B, with an admin token of its own, runs every
 * operation of `/openapi.json` on A's names and ids, and then the cross-tenant references
 * below (dead-letter targets, scheduler targets, token ids). B's answers never carry A's
 * data (A's tenant name is in every body A stored), and nothing A can see changes.
 *
 * A new block is covered by adding its resource to RESOURCE_KINDS; a new kind of reference
 * between resources adds one row to CROSS_REFERENCES.
 */
import { describe, expect, it } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { fillPath, isStream, liveOperations, tenantSnapshot } from '../support/openapi-operations'
import { createFixtures, FIXTURE_NAME } from '../support/resource-kinds'

interface Step {
  method: string
  path: string
  body?: unknown
}

interface CrossReference {
  what: string
  /** B's requests; `{a:param}` is replaced by A's value of the path parameter. */
  steps: Step[]
  /** The status B gets for the last step. */
  lastStatus: number[]
}

const CROSS_REFERENCES: CrossReference[] = [
  {
    what: "a queue whose dead-letter queue is A's",
    steps: [
      {
        method: 'PUT',
        path: '/v1/queues/b-q',
        body: { deadLetter: { queue: 'fx-dlq', maxReceiveCount: 2 } },
      },
    ],
    lastStatus: [400, 404, 422],
  },
  {
    what: "a pub-sub subscription whose dead-letter topic is A's",
    steps: [
      { method: 'POST', path: '/v1/pubsub/topics', body: { name: 'b-t' } },
      {
        method: 'POST',
        path: '/v1/pubsub/topics/b-t/subscriptions',
        body: { name: 'b-s', type: 'pull', deadLetter: { topic: FIXTURE_NAME } },
      },
    ],
    lastStatus: [400, 404, 422],
  },
  {
    what: "a scheduled task whose target is A's queue (it runs in B's namespace and fails there)",
    steps: [
      {
        method: 'POST',
        path: '/v1/scheduler/tasks',
        body: { target: { type: 'queue', queue: FIXTURE_NAME, body: 'from B' } },
      },
    ],
    lastStatus: [201],
  },
  {
    what: "a schedule whose target is A's topic",
    steps: [
      {
        method: 'POST',
        path: '/v1/scheduler/schedules',
        body: {
          name: 'b-sched',
          cron: '0 3 1 1 *',
          target: { type: 'topic', topic: FIXTURE_NAME, data: 'from B' },
        },
      },
      { method: 'POST', path: '/v1/scheduler/schedules/b-sched/trigger' },
    ],
    lastStatus: [200],
  },
  {
    what: "a DNS zone inside A's zone (A does not delegate it)",
    steps: [{ method: 'PUT', path: '/v1/dns/zones/sub.{a:zone}', body: {} }],
    lastStatus: [409],
  },
  {
    what: "a DNS failover record whose health source is A's load balancer pool",
    steps: [
      {
        method: 'PUT',
        path: `/v1/dns/zones/b-${crypto.randomUUID().slice(0, 8)}.test`,
        body: {
          rrsets: [
            {
              name: 'app',
              type: 'A',
              changetype: 'REPLACE',
              policy: { kind: 'failover' },
              records: [{ content: '192.0.2.10', pool: FIXTURE_NAME }],
            },
          ],
        },
      },
    ],
    lastStatus: [400],
  },
  {
    what: "the revocation of A's token id",
    steps: [{ method: 'DELETE', path: '/v1/tokens/{a:tokenId}' }],
    lastStatus: [404],
  },
]

describe('tenant isolation', () => {
  it("lets no operation of tenant B read or change tenant A's resources", async () => {
    const operations = await liveOperations()
    const a = uniqueTenant('iso-a')
    const aToken = await tokenFor(a, ['admin'])
    const aParams = await createFixtures(a, aToken)
    const before = await tenantSnapshot(operations, aToken, aParams, FIXTURE_NAME)
    expect(JSON.stringify(before)).toContain(a)

    const b = uniqueTenant('iso-b')
    const bToken = await tokenFor(b, ['admin'])
    const swept = operations.filter((op) => op.auth === 'bearer' && !op.wire && !isStream(op))
    for (const op of swept) {
      const path = fillPath(op.path, aParams, FIXTURE_NAME)
      const response = await call(path, {
        method: op.method,
        token: bToken,
        ...(op.method === 'GET' || op.method === 'DELETE' ? {} : { body: {} }),
      })
      const where = `${op.method} ${path} as B → ${response.status}`
      expect(response.status, where).toBeLessThan(500)
      expect(JSON.stringify(response.body), where).not.toContain(a)
    }

    for (const reference of CROSS_REFERENCES) {
      let status = 0
      for (const step of reference.steps) {
        const path = step.path.replace(/\{a:(\w+)\}/g, (_, param: string) => aParams[param] ?? '')
        const response = await call<Record<string, unknown>>(path, {
          method: step.method,
          token: bToken,
          ...(step.body !== undefined ? { body: step.body } : {}),
        })
        status = response.status
        expect(JSON.stringify(response.body), reference.what).not.toContain(a)
      }
      expect(reference.lastStatus, `${reference.what}: ${status}`).toContain(status)
    }

    // B's tasks ran once (against B's own, missing queue and topic) and recorded why they failed
    // (an attempt in flight has counted itself but not its error yet) before A is looked at again.
    const deadline = Date.now() + 60_000
    let tasks: Array<{ attempts: number; lastError: string | null }> = []
    do {
      tasks = (await call<{ items: typeof tasks }>('/v1/scheduler/tasks', { token: bToken })).body.items
    } while (tasks.some((task) => task.attempts === 0 || task.lastError === null) && Date.now() < deadline)
    expect(tasks.length).toBeGreaterThanOrEqual(2)
    for (const task of tasks) expect(task.lastError).toMatch(/not_found/)

    // A's token still works, and nothing A can see has changed.
    expect((await call('/v1/whoami', { token: aParams.fixtureToken ?? '' })).status).toBe(200)
    expect(await tenantSnapshot(operations, aToken, aParams, FIXTURE_NAME)).toEqual(before)
  }, 180_000)
})

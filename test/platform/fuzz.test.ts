/**
 * The OpenAPI-driven fuzz: every operation of the live `/openapi.json` gets hostile input
 * (wrong types, huge and fractional numbers, 100 KB strings, nesting depth 1,000, NUL, CR/LF,
 * lone surrogates, forged cursors and ids, arrays where objects belong, non-JSON media
 * types), with a valid token of a tenant that owns one resource of every kind
 * (test/support/resource-kinds.ts), so the input reaches the block's own checks.
 *
 * For every response:
 * - no 5xx and no hang (each request has a deadline);
 * - every 4xx is an RFC 9457 problem (`application/problem+json` with string `type`,
 *   `title`, `detail` and `status` equal to the HTTP status), except on an operation marked
 *   `x-wire: <name>` (`describe({ wire: 's3' })`): a standard wire keeps its own error shape,
 *   so there only the first rule holds;
 * - nothing stored by a refused request: after each operation's batch, if every request of
 *   the batch was refused, the tenant's listings and fixture reads in that block are
 *   unchanged (writes only).
 *
 * A route added later is covered as soon as it is in the document; a new resource kind
 * adds one row to resource-kinds.ts. Seeded and bounded (FUZZ_SEED, RUNS_PER_OPERATION).
 */
import { env, SELF } from 'cloudflare:test'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { tokenFor, uniqueTenant } from '../helpers'
import {
  encodeComponent,
  fillPath,
  type JsonSchema,
  liveOperations,
  type Operation,
  tenantSnapshot,
} from '../support/openapi-operations'
import { createFixtures, FIXTURE_NAME } from '../support/resource-kinds'

const FUZZ_SEED = 20_261_202
const RUNS_PER_OPERATION = 10
const REQUEST_DEADLINE_MS = 10_000

/** Values that broke, or could break, something somewhere. */
const HOSTILE_STRINGS = [
  '',
  '\u0000',
  'a\u0000b',
  'line\r\nInjected: yes',
  '\ud800',
  'x\udc00y',
  '../../etc',
  '%00',
  'AA',
  'YQBi',
  '😀'.repeat(40),
  'x'.repeat(300),
]

const hostileString = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ maxLength: 24, unit: 'binary' }) },
  { weight: 1, arbitrary: fc.constant('x'.repeat(100_000)) },
)

const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(0, -1, 1.5, 2 ** 53 + 2, -(2 ** 63), 1e308, Number.MAX_SAFE_INTEGER, true, null),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
)

function nested(depth: number): unknown {
  let value: unknown = 1
  for (let i = 0; i < depth; i++) value = { a: value }
  return value
}

/** A JSON value shaped like the schema's properties, each one hostile or left out. */
function hostileObject(schema: JsonSchema | undefined): fc.Arbitrary<unknown> {
  const names = Object.keys(schema?.properties ?? {})
  const fields = fc.dictionary(
    names.length > 0 ? fc.constantFrom(...names) : fc.string({ maxLength: 8 }),
    fc.oneof(
      hostileScalar,
      fc.array(hostileScalar, { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 6 }), hostileScalar, { maxKeys: 3 }),
    ),
    { maxKeys: Math.max(1, names.length) },
  )
  return fc.oneof(
    { weight: 6, arbitrary: fields },
    {
      weight: 1,
      arbitrary: fc.constantFrom<unknown>([], [{}], null, 'text', 42, true, nested(1000), { push: [] }),
    },
  )
}

interface Attempt {
  path: string
  query: Record<string, string>
  contentType: string | undefined
  body: unknown
  rawBody: string | undefined
}

function attemptFor(op: Operation, params: Record<string, string>): fc.Arbitrary<Attempt> {
  const pathValue = fc.oneof(
    { weight: 3, arbitrary: fc.constant<string | undefined>(undefined) },
    hostileString,
  )
  const pathValues = fc.tuple(...op.pathParams.map(() => pathValue))
  // Each query parameter is absent half the time, so one hostile value at a time reaches the
  // handler (a bad `limit` beside a forged `cursor` would stop at validation).
  const queryValue = fc.option(
    fc.oneof(
      // Forged opaque values (cursors, handles): base64url of NUL, "a\0b", invalid UTF-8.
      { weight: 2, arbitrary: fc.constantFrom('AA', 'YQBi', '_w', '7aCA') },
      { weight: 1, arbitrary: fc.constantFrom('1', '0', '-5', '1000000', 'true') },
      { weight: 2, arbitrary: hostileString },
    ),
    { nil: undefined, freq: 2 },
  )
  const queryValues = fc.tuple(...op.queryParams.map(() => queryValue))
  const contentType = fc.constantFrom(
    'application/json',
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    undefined,
  )
  const rawBody = fc.option(fc.constantFrom('{', '{"a":', 'null', '\u0000', '[]'), {
    nil: undefined,
    freq: 6,
  })
  return fc
    .record({ pathValues, queryValues, contentType, body: hostileObject(op.body), rawBody })
    .map(({ pathValues: pv, queryValues: qv, contentType: ct, body, rawBody: raw }) => {
      const values: Record<string, string> = { ...params }
      op.pathParams.forEach((name, i) => {
        const value = pv[i]
        if (value !== undefined) values[name] = value
      })
      const query: Record<string, string> = {}
      op.queryParams.forEach((name, i) => {
        const value = qv[i]
        if (value !== undefined) query[name] = value
      })
      return { path: fillPath(op.path, values, FIXTURE_NAME), query, contentType: ct, body, rawBody: raw }
    })
}

function queryString(query: Record<string, string>): string {
  const parts = Object.entries(query).map(([key, value]) => `${key}=${encodeComponent(value)}`)
  return parts.length > 0 ? `?${parts.join('&')}` : ''
}

interface Outcome {
  status: number
  contentType: string
  text: string
}

async function send(op: Operation, attempt: Attempt, token: string): Promise<Outcome> {
  const headers: Record<string, string> = {}
  if (op.auth === 'bearer') headers.authorization = `Bearer ${token}`
  if (op.auth === 'root') headers.authorization = `Bearer ${env.ROOT_KEY}`
  let body: string | undefined
  if (op.method !== 'GET' && op.method !== 'DELETE') {
    body = attempt.rawBody ?? JSON.stringify(attempt.body)
    if (attempt.contentType) headers['content-type'] = attempt.contentType
  }
  const request = SELF.fetch(`http://edge.test${attempt.path}${queryString(attempt.query)}`, {
    method: op.method,
    headers,
    ...(body !== undefined ? { body } : {}),
  }).then(async (response) => {
    const contentType = response.headers.get('content-type') ?? ''
    // A 2xx may be a stream (SSE, WebSocket upgrade): do not wait for its end.
    const text = response.status >= 400 ? await response.text() : ''
    if (response.status < 400) await response.body?.cancel()
    return { status: response.status, contentType, text }
  })
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${REQUEST_DEADLINE_MS} ms`)),
      REQUEST_DEADLINE_MS,
    )
  })
  try {
    return await Promise.race([request, deadline])
  } finally {
    clearTimeout(timer)
  }
}

function expectWellFormed(op: Operation, attempt: Attempt, outcome: Outcome): void {
  const where = `${op.method} ${attempt.path}${queryString(attempt.query)} (${attempt.contentType ?? 'no content type'})`
  expect(outcome.status, `${where} answered ${outcome.status}: ${outcome.text.slice(0, 300)}`).toBeLessThan(
    500,
  )
  if (outcome.status < 400 || op.wire) return
  expect(outcome.contentType, `${where}: ${outcome.text.slice(0, 200)}`).toBe('application/problem+json')
  const problem = JSON.parse(outcome.text) as Record<string, unknown>
  expect(problem, where).toMatchObject({
    type: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
    status: outcome.status,
  })
}

describe('every operation of /openapi.json under hostile input', () => {
  let operations: Operation[]
  let tenant: string
  let token: string
  let params: Record<string, string>

  beforeAll(async () => {
    operations = await liveOperations()
    tenant = uniqueTenant('fuzz')
    token = await tokenFor(tenant, ['admin'])
    params = await createFixtures(tenant, token)
  }, 60_000)

  it('answers without 5xx or hangs, with problem+json errors, and stores nothing it refused', async () => {
    expect(operations.length).toBeGreaterThan(40)
    for (const op of operations) {
      // What the tenant has in this operation's block (`/v1/queues`, `/v1/pubsub`…) before the batch.
      const block = op.path.split('/').slice(0, 3).join('/')
      const write = op.method !== 'GET'
      const before = write ? await tenantSnapshot(operations, token, params, FIXTURE_NAME, block) : {}
      let accepted = 0
      await fc.assert(
        fc.asyncProperty(attemptFor(op, params), async (attempt) => {
          const outcome = await send(op, attempt, token)
          expectWellFormed(op, attempt, outcome)
          if (outcome.status < 400) accepted++
        }),
        { seed: FUZZ_SEED, numRuns: RUNS_PER_OPERATION, endOnFailure: true },
      )
      if (!write) continue
      if (accepted === 0) {
        const after = await tenantSnapshot(operations, token, params, FIXTURE_NAME, block)
        expect(after, `${op.method} ${op.path}: refused requests changed what the tenant has`).toEqual(before)
      } else {
        // An accepted request may change things (that is its job): put the fixtures back.
        params = await createFixtures(tenant, token)
      }
    }
  }, 240_000)
})

/**
 * The sequencer's routes, mounted at `/v1/sequencer`: batches of unique IDs from a named
 * generator (Snowflake, UUIDv7, ULID, database ranges), Snowflake decoding, and Lamport and
 * hybrid logical clocks as a service. The tenant comes from the token only.
 */
import { Hono } from 'hono'
import { NameParam } from '../../schemas/common'
import {
  DecodedId,
  GeneratorState,
  HlcRequest,
  HlcTimestampResponse,
  IssuedIds,
  IssueIdsRequest,
  LamportRequest,
  LamportTimestamp,
  SnowflakeIdParam,
} from '../../schemas/sequencer'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { decodeHlc, encodeHlc, type HlcTimestamp } from './clocks'
import { clockStub, generatorStub, HLC_MAX_DRIFT_MS, RANGE_BLOCK_SIZE, snowflakeEpochMs } from './settings'
import { decodeSnowflake } from './snowflake'

const TAGS = ['sequencer']

export const sequencerRoutes = new Hono<AuthEnv>()
  .post(
    '/generators/:name/ids',
    describe({
      tags: TAGS,
      summary: 'Issue a batch of unique, increasing IDs',
      description:
        'Up to 10,000 IDs per request, strictly increasing per generator and never repeated. ' +
        '`snowflake`: 64-bit IDs as decimal strings (41 bits ms since SNOWFLAKE_EPOCH_MS, 10 bits leased ' +
        'generator ID, 12 bits sequence); `uuidv7`: RFC 9562, monotonic by a 42-bit counter; `ulid`: ' +
        `monotonic ULIDs; \`range\`: numbers leased from the database in blocks of ${RANGE_BLOCK_SIZE} or more ` +
        '(after a restart the rest of a block is skipped: gaps, never duplicates).',
      scope: 'sequencer:write',
      responses: { 200: { description: 'The IDs, in increasing order', schema: IssuedIds } },
      problems: [409, 413, 503],
    }),
    requireScope('sequencer:write'),
    validate('param', NameParam),
    validate('json', IssueIdsRequest),
    async function issueIds(c) {
      const { name } = c.req.valid('param')
      const { kind, count } = c.req.valid('json')
      const ref = { tenant: tenantOf(c), name }
      return c.json(await generatorStub(c.env, ref).issue(ref, kind, count))
    },
  )
  .get(
    '/generators/:name',
    describe({
      tags: TAGS,
      summary: "A generator's last IDs, its Snowflake generator-ID lease and its leased ranges",
      scope: 'sequencer:read',
      responses: { 200: { description: 'The generator', schema: GeneratorState } },
    }),
    requireScope('sequencer:read'),
    validate('param', NameParam),
    async function generatorState(c) {
      const { name } = c.req.valid('param')
      return c.json(await generatorStub(c.env, { tenant: tenantOf(c), name }).state(name))
    },
  )
  .get(
    '/decode/:id',
    describe({
      tags: TAGS,
      summary: 'Split a Snowflake ID into its timestamp, generator ID and sequence',
      scope: 'sequencer:read',
      responses: { 200: { description: 'The parts', schema: DecodedId } },
    }),
    requireScope('sequencer:read'),
    validate('param', SnowflakeIdParam),
    function decodeId(c) {
      const { id } = c.req.valid('param')
      const parts = decodeSnowflake(BigInt(id), snowflakeEpochMs(c.env))
      return c.json({ id, ...parts, isoTime: new Date(parts.timestampMs).toISOString() })
    },
  )
  .post(
    '/clocks/:name/lamport',
    describe({
      tags: TAGS,
      summary: 'A Lamport timestamp greater than `seen` and everything this clock issued',
      description: 'Without `seen` it is a local event (tick); with it, a receive: max(own, seen) + 1.',
      scope: 'sequencer:write',
      responses: { 200: { description: 'The timestamp', schema: LamportTimestamp } },
      problems: [409, 413],
    }),
    requireScope('sequencer:write'),
    validate('param', NameParam),
    validate('json', LamportRequest),
    async function lamportTimestamp(c) {
      const { name } = c.req.valid('param')
      const { seen } = c.req.valid('json')
      const stub = clockStub(c.env, { tenant: tenantOf(c), name })
      const timestamp = await stub.lamport(seen === undefined ? undefined : Number(seen))
      return c.json({ timestamp: String(timestamp) })
    },
  )
  .post(
    '/clocks/:name/hlc',
    describe({
      tags: TAGS,
      summary: 'A hybrid logical clock timestamp greater than `seen` and everything this clock issued',
      description:
        'Kulkarni et al. send/receive rules. `seen` may be the sortable string or `{ wallMs, logical }`; ' +
        `one more than ${HLC_MAX_DRIFT_MS / 1000} s ahead of this clock is refused with 422.`,
      scope: 'sequencer:write',
      responses: { 200: { description: 'The timestamp', schema: HlcTimestampResponse } },
      problems: [409, 413, 422],
    }),
    requireScope('sequencer:write'),
    validate('param', NameParam),
    validate('json', HlcRequest),
    async function hlcTimestamp(c) {
      const { name } = c.req.valid('param')
      const { seen } = c.req.valid('json')
      const remote: HlcTimestamp | undefined = typeof seen === 'string' ? decodeHlc(seen) : seen
      const timestamp = await clockStub(c.env, { tenant: tenantOf(c), name }).hlc(remote)
      return c.json({ timestamp: encodeHlc(timestamp), ...timestamp })
    },
  )

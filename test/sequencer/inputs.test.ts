import { env } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { snowflakeEpochMs } from '../../workers/sequencer/settings'
import { DEFAULT_SNOWFLAKE_EPOCH_MS } from '../../workers/sequencer/snowflake'
import { call, tokenFor, uniqueTenant } from '../helpers'

interface Problem {
  type: string
  status: number
  errors?: Array<{ path: string; message: string }>
}

const write = (tenant: string) => tokenFor(tenant, ['sequencer:write', 'sequencer:read'])

function expectProblem(response: { status: number; body: unknown }, status: number, code: string) {
  expect(response.status, JSON.stringify(response.body)).toBe(status)
  expect((response.body as Problem).type).toMatch(new RegExp(`:${code}$`))
}

describe('bad input to the sequencer gets 400 and changes nothing', () => {
  it('refuses counts of 0, 10,001, fractions and strings, unknown kinds and bad bodies', async () => {
    const token = await write(uniqueTenant())
    const first = await call<{ ids: string[] }>('/v1/sequencer/generators/g/ids', {
      token,
      body: { kind: 'range', count: 2 },
    })
    expect(first.body.ids).toEqual(['1', '2'])
    const snowflake = await call<{ ids: string[] }>('/v1/sequencer/generators/g/ids', {
      token,
      body: { kind: 'snowflake', count: 1 },
    })
    const stateBefore = await call('/v1/sequencer/generators/g', { token })

    const bad: Array<[unknown, string | undefined]> = [
      [{ kind: 'range', count: 0 }, 'body/count'],
      [{ kind: 'range', count: 10_001 }, 'body/count'],
      [{ kind: 'range', count: 2.5 }, 'body/count'],
      [{ kind: 'range', count: '5' }, 'body/count'],
      [{ kind: 'range', count: -1 }, 'body/count'],
      [{ kind: 'sequential', count: 5 }, 'body/kind'],
      [{ kind: 'SNOWFLAKE', count: 5 }, 'body/kind'],
      [{ count: 5 }, 'body/kind'],
      [[], undefined],
      [{ kind: 'range', count: 1e9 }, 'body/count'],
    ]
    for (const [body, path] of bad) {
      const response = await call<Problem>('/v1/sequencer/generators/g/ids', { token, body })
      expectProblem(response, 400, 'validation_failed')
      if (path)
        expect(
          response.body.errors?.map((error) => error.path),
          JSON.stringify(body),
        ).toContain(path)
    }
    const malformed = await call<Problem>('/v1/sequencer/generators/g/ids', { token, body: '{"kind":' })
    expect(malformed.status).toBe(400)

    const stateAfter = await call('/v1/sequencer/generators/g', { token })
    expect(stateAfter.body).toEqual(stateBefore.body)
    const next = await call<{ ids: string[] }>('/v1/sequencer/generators/g/ids', {
      token,
      body: { kind: 'range', count: 1 },
    })
    expect(next.body.ids).toEqual(['3']) // nothing was consumed by the bad requests
    const nextSnowflake = await call<{ ids: string[] }>('/v1/sequencer/generators/g/ids', {
      token,
      body: { kind: 'snowflake', count: 1 },
    })
    expect(BigInt(nextSnowflake.body.ids[0] as string)).toBeGreaterThan(
      BigInt(snowflake.body.ids[0] as string),
    )
  })

  it('refuses a body over 4 KiB with 413', async () => {
    const token = await write(uniqueTenant())
    const body = { kind: 'range', count: 1, padding: 'x'.repeat(5_000) }
    const response = await call<Problem>('/v1/sequencer/generators/g/ids', { token, body })
    expectProblem(response, 413, 'payload_too_large')
    const state = await call<{ range: unknown }>('/v1/sequencer/generators/g', { token })
    expect(state.body.range).toEqual({ available: 0, blocks: [] })
  })

  it('refuses bad generator names', async () => {
    const token = await write(uniqueTenant())
    for (const name of ['-starts-with-dash', 'has%20space', 'a'.repeat(129), 'semi%3Acolon']) {
      const response = await call<Problem>(`/v1/sequencer/generators/${name}/ids`, {
        token,
        body: { kind: 'range', count: 1 },
      })
      expectProblem(response, 400, 'validation_failed')
      expect(response.body.errors?.[0]?.path).toBe('param/name')
    }
  })

  it('refuses a malformed Snowflake ID to decode', async () => {
    const token = await write(uniqueTenant())
    for (const id of ['abc', '-1', '1.5', '9223372036854775808', '12345678901234567890', '0x1f']) {
      const response = await call<Problem>(`/v1/sequencer/decode/${id}`, { token })
      expectProblem(response, 400, 'validation_failed')
      expect(response.body.errors?.[0]?.path).toBe('param/id')
    }
  })

  it('refuses malformed clock timestamps', async () => {
    const token = await write(uniqueTenant())
    for (const seen of ['abc', '-1', 5, '9007199254740991', '1'.repeat(17)]) {
      const response = await call<Problem>('/v1/sequencer/clocks/c/lamport', { token, body: { seen } })
      expectProblem(response, 400, 'validation_failed')
    }
    const hlcSeen = [
      '123',
      '001795694400000-00000000',
      { wallMs: -1, logical: 0 },
      { wallMs: 1, logical: 2 ** 32 },
    ]
    for (const seen of hlcSeen) {
      const response = await call<Problem>('/v1/sequencer/clocks/c/hlc', { token, body: { seen } })
      expectProblem(response, 400, 'validation_failed')
    }
    const lamport = await call<{ timestamp: string }>('/v1/sequencer/clocks/c/lamport', { token, body: {} })
    expect(lamport.body.timestamp).toBe('1')
  })
})

describe('authorization', () => {
  it('needs a token, sequencer:write to issue and sequencer:read to read', async () => {
    const tenant = uniqueTenant()
    const none = await call('/v1/sequencer/generators/g/ids', { body: { kind: 'range', count: 1 } })
    expectProblem(none, 401, 'unauthorized')
    const reader = await tokenFor(tenant, ['sequencer:read'])
    const forbidden = await call('/v1/sequencer/generators/g/ids', {
      token: reader,
      body: { kind: 'range', count: 1 },
    })
    expectProblem(forbidden, 403, 'forbidden')
    const clock = await call('/v1/sequencer/clocks/c/lamport', { token: reader, body: {} })
    expectProblem(clock, 403, 'forbidden')
    const writer = await tokenFor(tenant, ['sequencer:write'])
    expectProblem(await call('/v1/sequencer/decode/1', { token: writer }), 403, 'forbidden')
    expect((await call('/v1/sequencer/decode/1', { token: reader })).status).toBe(200)
    const state = await call<{ range: unknown }>('/v1/sequencer/generators/g', { token: reader })
    expect(state.body.range).toEqual({ available: 0, blocks: [] }) // the refused requests issued nothing
  })
})

describe('GET /v1/sequencer/decode/{id}', () => {
  it('splits a Snowflake into timestamp, generator ID and sequence', async () => {
    const token = await write(uniqueTenant())
    const id = ((1_000n << 22n) | (7n << 12n) | 42n).toString()
    const decoded = await call(`/v1/sequencer/decode/${id}`, { token })
    expect(decoded.body).toEqual({
      id,
      timestampMs: DEFAULT_SNOWFLAKE_EPOCH_MS + 1_000,
      isoTime: '2024-01-01T00:00:01.000Z',
      generatorId: 7,
      sequence: 42,
    })
    const largest = await call<{ generatorId: number; sequence: number }>(
      '/v1/sequencer/decode/9223372036854775807',
      {
        token,
      },
    )
    expect(largest.body).toMatchObject({ generatorId: 1023, sequence: 4095 })
  })

  it('decodes what a generator issued', async () => {
    const token = await write(uniqueTenant())
    const issued = await call<{ ids: string[]; generatorId: number }>('/v1/sequencer/generators/g/ids', {
      token,
      body: { kind: 'snowflake', count: 4_097 },
    })
    const last = issued.body.ids.at(-1) as string
    const decoded = await call<{ timestampMs: number; generatorId: number; sequence: number }>(
      `/v1/sequencer/decode/${last}`,
      { token },
    )
    expect(decoded.body.generatorId).toBe(issued.body.generatorId)
    const first = await call<{ timestampMs: number; sequence: number }>(
      `/v1/sequencer/decode/${issued.body.ids[0]}`,
      { token },
    )
    // 4,097 IDs in one batch: the sequence spills into the next millisecond at least once
    expect(decoded.body.timestampMs).toBeGreaterThan(first.body.timestampMs)
  })
})

describe('SNOWFLAKE_EPOCH_MS', () => {
  it('defaults to 2024-01-01T00:00:00Z, accepts Unix ms in the past and fails loudly otherwise', () => {
    expect(snowflakeEpochMs(env)).toBe(Date.UTC(2024, 0, 1))
    expect(snowflakeEpochMs({ ...env, SNOWFLAKE_EPOCH_MS: '1288834974657' })).toBe(1288834974657)
    expect(snowflakeEpochMs({ ...env, SNOWFLAKE_EPOCH_MS: '' })).toBe(DEFAULT_SNOWFLAKE_EPOCH_MS)
    for (const bad of ['soon', '-5', '1.5', String(Date.now() + 86_400_000), '99999999999999999']) {
      expect(() => snowflakeEpochMs({ ...env, SNOWFLAKE_EPOCH_MS: bad }), bad).toThrow(/SNOWFLAKE_EPOCH_MS/)
    }
  })
})

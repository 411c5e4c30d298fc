import { env, evictDurableObject } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { objectName } from '../../workers/platform/tenancy'
import { encodeHlc } from '../../workers/sequencer/clocks'
import { call, tokenFor, uniqueTenant } from '../helpers'

interface Hlc {
  timestamp: string
  wallMs: number
  logical: number
}

const write = (tenant: string) => tokenFor(tenant, ['sequencer:write'])

const lamport = async (token: string, name: string, seen?: string) =>
  (
    await call<{ timestamp: string }>(`/v1/sequencer/clocks/${name}/lamport`, {
      token,
      body: seen === undefined ? {} : { seen },
    })
  ).body.timestamp

const hlc = (token: string, name: string, seen?: unknown) =>
  call<Hlc>(`/v1/sequencer/clocks/${name}/hlc`, { token, body: seen === undefined ? {} : { seen } })

describe('POST /v1/sequencer/clocks/{name}/lamport', () => {
  it('answers strictly above what the caller saw and everything issued before', async () => {
    const token = await write(uniqueTenant())
    expect(await lamport(token, 'c')).toBe('1')
    expect(await lamport(token, 'c')).toBe('2')
    expect(await lamport(token, 'c', '100')).toBe('101')
    expect(await lamport(token, 'c', '5')).toBe('102')
    const noBody = await call<{ timestamp: string }>('/v1/sequencer/clocks/c/lamport', {
      token,
      method: 'POST',
    })
    expect(noBody.body.timestamp).toBe('103')
  })

  it('gives concurrent callers distinct timestamps, each above what it saw', async () => {
    const token = await write(uniqueTenant())
    const seen = Array.from({ length: 200 }, (_, i) => String(i * 3))
    const answers = await Promise.all(seen.map((s) => lamport(token, 'busy', s)))
    expect(new Set(answers).size).toBe(200)
    for (const [i, answer] of answers.entries()) expect(Number(answer)).toBeGreaterThan(Number(seen[i]))
  })

  it('answers 409 once the clock has reached 2^53 - 1, and stays there', async () => {
    const token = await write(uniqueTenant())
    expect(await lamport(token, 'full', '9007199254740990')).toBe('9007199254740991')
    for (let i = 0; i < 2; i++) {
      const exhausted = await call<{ type: string }>('/v1/sequencer/clocks/full/lamport', { token, body: {} })
      expect(exhausted.status).toBe(409)
      expect(exhausted.body.type).toMatch(/:conflict$/)
    }
  })

  it('survives a restart and keeps tenants apart', async () => {
    const tenant = uniqueTenant()
    const token = await write(tenant)
    expect(await lamport(token, 'durable', '41')).toBe('42')
    const stub = env.SEQUENCER.get(env.SEQUENCER.idFromName(objectName(tenant, 'sequencer-clock', 'durable')))
    await evictDurableObject(stub)
    expect(await lamport(token, 'durable')).toBe('43')
    expect(await lamport(await write(uniqueTenant()), 'durable')).toBe('1')
  })
})

describe('POST /v1/sequencer/clocks/{name}/hlc', () => {
  it('follows physical time and answers above what the caller saw', async () => {
    const token = await write(uniqueTenant())
    const first = await hlc(token, 'h')
    expect(first.status).toBe(200)
    expect(Math.abs(first.body.wallMs - Date.now())).toBeLessThan(60_000)
    expect(first.body.timestamp).toBe(encodeHlc(first.body))

    const ahead = { wallMs: first.body.wallMs + 5_000, logical: 7 }
    const afterAhead = await hlc(token, 'h', ahead)
    expect(afterAhead.body).toMatchObject({ wallMs: ahead.wallMs, logical: 8 })
    const asString = await hlc(token, 'h', encodeHlc({ wallMs: ahead.wallMs, logical: 20 }))
    expect(asString.body).toMatchObject({ wallMs: ahead.wallMs, logical: 21 })
    const local = await hlc(token, 'h')
    expect(local.body.timestamp > asString.body.timestamp).toBe(true)
  })

  it('orders concurrent answers strictly: every timestamp distinct', async () => {
    const token = await write(uniqueTenant())
    const answers = await Promise.all(Array.from({ length: 200 }, () => hlc(token, 'busy')))
    const stamps = answers.map((answer) => answer.body.timestamp)
    expect(new Set(stamps).size).toBe(200)
  })

  it('refuses a timestamp more than 60 s ahead with 422 and does not move', async () => {
    const token = await write(uniqueTenant())
    const before = await hlc(token, 'h')
    const refused = await hlc(token, 'h', { wallMs: Date.now() + 3_600_000, logical: 0 })
    expect(refused.status).toBe(422)
    expect((refused.body as unknown as { type: string }).type).toMatch(/:unprocessable$/)
    const after = await hlc(token, 'h')
    expect(after.body.wallMs).toBeLessThan(Date.now() + 60_000)
    expect(after.body.timestamp > before.body.timestamp).toBe(true)
  })
})

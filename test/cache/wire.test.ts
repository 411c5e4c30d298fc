import { describe, expect, it } from 'vitest'
import { call, tokenFor, uniqueTenant } from '../helpers'
import { cacheTester } from './support'

describe('the Upstash REST wire', () => {
  it('runs one command per request with {result}', async () => {
    const t = await cacheTester()
    expect(await t.cmd('SET', 'k', 'v')).toMatchObject({ status: 200, body: { result: 'OK' } })
    expect(await t.cmd('GET', 'k')).toMatchObject({ status: 200, body: { result: 'v' } })
    expect(await t.cmd('get', 'missing')).toMatchObject({ status: 200, body: { result: null } })
    expect(await t.r('SET', 'n', 41)).toBe('OK')
    expect(await t.r('INCR', 'n')).toBe(42)
  })
})

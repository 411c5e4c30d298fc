import { describe, expect, it } from 'vitest'
import { AppError, asAppError, STATUS_BY_CODE, toProblem } from '../../workers/platform/errors'

describe('AppError', () => {
  it('maps every code to a status', () => {
    expect(new AppError('not_found', 'x').status).toBe(404)
    expect(new AppError('rate_limited', 'x').status).toBe(429)
    expect(Object.values(STATUS_BY_CODE).every((s) => s >= 400 && s < 600)).toBe(true)
  })

  it('survives a trip through a plain Error message, as across Durable Object RPC', () => {
    const original = new AppError('conflict', 'already there', {
      headers: { 'Retry-After': '3' },
      errors: [{ path: 'body/name', message: 'taken' }],
    })
    const overTheWire = new Error(original.message)
    const rebuilt = asAppError(overTheWire)
    expect(rebuilt).toBeInstanceOf(AppError)
    expect(rebuilt).toMatchObject({ code: 'conflict', status: 409, detail: 'already there' })
    expect(rebuilt.headers).toEqual({ 'Retry-After': '3' })
    expect(toProblem(rebuilt, '/x', 'r1')).toEqual({
      type: 'urn:edgeblocks:problem:conflict',
      title: 'Conflict',
      status: 409,
      detail: 'already there',
      instance: '/x',
      requestId: 'r1',
      errors: [{ path: 'body/name', message: 'taken' }],
    })
  })

  it('hides unknown errors behind a generic 500', () => {
    const error = asAppError(new Error('database password is hunter2'))
    expect(error.code).toBe('internal')
    expect(error.detail).not.toContain('hunter2')
  })

  it('answers a libSQL lock timeout (as drizzle wraps it) with a retryable 503', () => {
    const busy = Object.assign(new Error('SQLITE_BUSY: database is locked'), { code: 'SQLITE_BUSY' })
    const wrapped = new Error('Failed query: insert into resources …', { cause: busy })
    const error = asAppError(wrapped)
    expect(error.status).toBe(503)
    expect(error.headers['retry-after']).toBe('1')
    expect(error.detail).not.toContain('insert')
  })
})

import { SourceMapConsumer, SourceMapGenerator } from 'source-map-js'
import { describe, expect, it } from 'vitest'
import { ERRORS_LIMITS } from '../../schemas/monitoring-errors'
import {
  EnvelopeError,
  newPublicKey,
  parseEnvelope,
  sentryKey,
  tenantOfKey,
} from '../../workers/monitoring/errors/envelope'
import { normalizeEvent } from '../../workers/monitoring/errors/event'
import { groupEvent, normalizeFilename } from '../../workers/monitoring/errors/grouping'
import { applyEvent, isSpike } from '../../workers/monitoring/errors/issues'
import { applySourceMaps, enclosingFunction, mapNamesFor } from '../../workers/monitoring/errors/sourcemaps'

const enc = (s: string) => new TextEncoder().encode(s)
const NOW = Date.UTC(2026, 5, 1)

const exceptionEvent = (over: Record<string, unknown> = {}, frames?: unknown[]) => ({
  event_id: 'a'.repeat(32),
  exception: {
    values: [
      {
        type: 'TypeError',
        value: 'x is undefined',
        stacktrace: {
          frames: frames ?? [
            { filename: 'https://cdn.example/static/app.3f9a1c.js', function: 'main', lineno: 10, colno: 5 },
            {
              filename: 'https://cdn.example/static/app.3f9a1c.js',
              function: 'render',
              lineno: 20,
              colno: 7,
            },
          ],
        },
      },
    ],
  },
  ...over,
})
const norm = (e: unknown) => normalizeEvent(e, ERRORS_LIMITS, NOW)

describe('parseEnvelope', () => {
  it('reads items with a length and newline-terminated items, skipping unknown types', () => {
    const event = JSON.stringify({ message: 'hi\nthere' })
    const body = [
      '{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}',
      `{"type":"event","length":${enc(event).length}}`,
      event,
      '{"type":"attachment","length":3}',
      'a\nb',
      '{"type":"session"}',
      '{"sid":"s","status":"ok"}',
      '{"type":"client_report"}',
      '{"discarded_events":[]}',
    ].join('\n')
    const envelope = parseEnvelope(enc(body), 100)
    expect(envelope.header.event_id).toBe('9ec79c33ec9942ab8353589fcb2e04dc')
    expect(envelope.items.map((i) => i.type)).toEqual(['event', 'session'])
    expect(envelope.items[0]?.payload).toEqual({ message: 'hi\nthere' })
  })

  it('accepts a last item without a trailing newline and an envelope with no items', () => {
    expect(parseEnvelope(enc('{}\n{"type":"event"}\n{"a":1}'), 10).items).toHaveLength(1)
    expect(parseEnvelope(enc('{}'), 10).items).toEqual([])
  })

  it.each([
    ['empty', ''],
    ['header not JSON', 'nope\n{"type":"event"}\n{}'],
    ['header an array', '[]\n'],
    ['item header without type', '{}\n{"length":2}\n{}'],
    ['length past the end', '{}\n{"type":"event","length":50}\n{}'],
    ['payload longer than its length', '{}\n{"type":"event","length":2}\n{}x\n'],
    ['payload not JSON', '{}\n{"type":"event"}\n{oops'],
    ['bad length', '{}\n{"type":"event","length":-1}\n{}'],
  ])('refuses %s', (_, body) => {
    expect(() => parseEnvelope(enc(body), 10)).toThrow(EnvelopeError)
  })

  it('refuses more items than allowed', () => {
    const body = `{}\n${'{"type":"session"}\n{}\n'.repeat(3)}`
    expect(() => parseEnvelope(enc(body), 2)).toThrow(/more than 2 items/)
  })
})

describe('DSN keys', () => {
  it('name their tenant and are found in the query, the auth header or the envelope dsn', () => {
    const key = newPublicKey('acme-1', new Uint8Array(16).fill(171))
    expect(key).toMatch(/^[0-9a-f]+$/)
    expect(tenantOfKey(key)).toBe('acme-1')
    expect(tenantOfKey('ab'.repeat(16))).toBeUndefined()
    expect(tenantOfKey('zz')).toBeUndefined()
    expect(sentryKey(new URLSearchParams(`sentry_key=${key}`), undefined)).toBe(key)
    expect(
      sentryKey(new URLSearchParams(), `Sentry sentry_version=7, sentry_key=${key}, sentry_client=x`),
    ).toBe(key)
    expect(sentryKey(new URLSearchParams(), undefined, { dsn: `https://${key}@h.example/1` })).toBe(key)
    expect(sentryKey(new URLSearchParams(), undefined, {})).toBeUndefined()
  })
})

describe('normalizeEvent', () => {
  it('keeps exceptions, tags, user, release, environment and breadcrumbs', () => {
    const e = norm(
      exceptionEvent({
        release: 'web@1.2.0',
        environment: 'production',
        level: 'warning',
        tags: { browser: 'Chrome' },
        user: { id: 'u1', email: 'a@b.c' },
        breadcrumbs: { values: [{ category: 'ui.click', message: 'button' }] },
        timestamp: NOW / 1000 - 5,
      }),
    )
    expect(e).toMatchObject({
      eventId: 'a'.repeat(32),
      release: 'web@1.2.0',
      environment: 'production',
      level: 'warning',
      tags: { browser: 'Chrome' },
      user: { id: 'u1', email: 'a@b.c' },
      breadcrumbs: [{ category: 'ui.click', message: 'button' }],
      timestamp: NOW - 5000,
      truncated: false,
    })
    expect(e.exceptions[0]?.frames.map((f) => f.function)).toEqual(['main', 'render'])
  })

  it('truncates an oversized event instead of dropping it', () => {
    const frames = Array.from({ length: 500 }, (_, i) => ({
      filename: 'app.js',
      function: `f${i}`,
      lineno: i,
    }))
    const e = norm(
      exceptionEvent(
        {
          message: 'm'.repeat(100_000),
          breadcrumbs: Array.from({ length: 1000 }, (_, i) => ({ message: `crumb ${i} ${'x'.repeat(500)}` })),
          extra: { blob: 'y'.repeat(500_000) },
          tags: Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`t${i}`, 'v'])),
        },
        frames,
      ),
    )
    expect(e.truncated).toBe(true)
    expect(new TextEncoder().encode(JSON.stringify(e)).length).toBeLessThanOrEqual(
      ERRORS_LIMITS.maxEventBytes,
    )
    expect(e.exceptions[0]?.frames.length).toBeLessThanOrEqual(ERRORS_LIMITS.maxFramesPerStacktrace)
    expect(e.exceptions[0]?.frames[0]?.function).toBe('f0')
    expect(e.exceptions[0]?.frames.at(-1)?.function).toBe('f499')
    expect(Object.keys(e.tags)).toHaveLength(ERRORS_LIMITS.maxTags)
    expect(e.breadcrumbs.at(-1)?.message).toMatch(/^crumb 999 /)
  })
})

describe('normalizeEvent at its worst', () => {
  it('fits long strings in every frame of every exception', () => {
    const long = 'z'.repeat(5000)
    const frames = Array.from({ length: 200 }, () => ({
      filename: long,
      abs_path: long,
      function: long,
      module: long,
      context_line: long,
      lineno: 1,
    }))
    const values = Array.from({ length: 20 }, () => ({ type: long, value: long, stacktrace: { frames } }))
    const e = norm({
      exception: { values },
      tags: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`${i}${long}`, long])),
    })
    expect(e.truncated).toBe(true)
    expect(new TextEncoder().encode(JSON.stringify(e)).length).toBeLessThanOrEqual(
      ERRORS_LIMITS.maxEventBytes,
    )
    expect(e.exceptions.length).toBeGreaterThan(0)
  })
})

describe('grouping', () => {
  it('groups by in-app frames, ignoring line numbers, origins and content hashes', () => {
    const a = groupEvent(norm(exceptionEvent()))
    const moved = groupEvent(
      norm(
        exceptionEvent({}, [
          { filename: 'https://other.cdn/static/app.77aa99.js', function: 'main', lineno: 11, colno: 1 },
          {
            filename: 'https://other.cdn/static/app.77aa99.js?v=3',
            function: 'render',
            lineno: 99,
            colno: 2,
          },
        ]),
      ),
    )
    const other = groupEvent(
      norm(
        exceptionEvent({}, [{ filename: 'https://cdn.example/static/app.js', function: 'paint', lineno: 1 }]),
      ),
    )
    expect(a.by).toBe('stacktrace')
    expect(moved.key).toBe(a.key)
    expect(other.key).not.toBe(a.key)
    expect(a.title).toBe('TypeError: x is undefined')
    expect(a.culprit).toBe('render (static/app.js)')
    expect(normalizeFilename('https://cdn.example/static/app.3f9a1c.min.js?x=1#y')).toBe('static/app.min.js')
  })

  it('uses the fingerprint when given, else the exception type and masked message', () => {
    const fp = groupEvent(norm(exceptionEvent({ fingerprint: ['checkout'] })))
    const fp2 = groupEvent(norm({ message: 'other', fingerprint: ['checkout'] }))
    expect(fp.by).toBe('fingerprint')
    expect(fp2.key).toBe(fp.key)
    const noFrames = (value: string) =>
      groupEvent(norm({ exception: { values: [{ type: 'RangeError', value }] } }))
    expect(noFrames('index 5 out of range').by).toBe('exception')
    expect(noFrames('index 5 out of range').key).toBe(noFrames('index 17 out of range').key)
    expect(noFrames('bad thing').key).not.toBe(noFrames('index 5 out of range').key)
    const vendorOnly = groupEvent(
      norm(exceptionEvent({}, [{ filename: 'https://x/node_modules/lib.js', function: 'f', lineno: 1 }])),
    )
    expect(vendorOnly.by).toBe('exception')
  })
})

describe('source maps', () => {
  it('maps minified frames to the original file, line, column and function', () => {
    const original = [
      'function outer() {',
      '  helper()',
      '}',
      'function helper() {',
      '  throw new Error("boom")',
      '}',
    ]
    const gen = new SourceMapGenerator({ file: 'app.min.js' })
    gen.addMapping({
      generated: { line: 1, column: 30 },
      original: { line: 5, column: 2 },
      source: 'src/app.js',
    })
    gen.addMapping({
      generated: { line: 1, column: 10 },
      original: { line: 2, column: 2 },
      source: 'src/app.js',
    })
    gen.setSourceContent('src/app.js', original.join('\n'))
    const consumer = new SourceMapConsumer(JSON.parse(gen.toString()))
    expect(mapNamesFor('http://localhost:1234/static/app.min.js?v=1')).toEqual([
      '~/static/app.min.js.map',
      '/static/app.min.js.map',
    ])
    const frames = norm(
      exceptionEvent({}, [
        {
          abs_path: 'http://h/static/app.min.js',
          filename: 'http://h/static/app.min.js',
          function: 'a',
          lineno: 1,
          colno: 11,
        },
        {
          abs_path: 'http://h/static/app.min.js',
          filename: 'http://h/static/app.min.js',
          function: 'b',
          lineno: 1,
          colno: 31,
        },
        { abs_path: 'http://h/other.js', filename: 'http://h/other.js', function: 'c', lineno: 3, colno: 1 },
      ]),
    ).exceptions[0]?.frames
    const { frames: out, mapped } = applySourceMaps(frames ?? [], (p) =>
      p.includes('app.min.js') ? consumer : null,
    )
    expect(mapped).toBe(2)
    expect(out.map((f) => [f.filename, f.function, f.lineno, f.colno])).toEqual([
      ['src/app.js', 'outer', 2, 3],
      ['src/app.js', 'helper', 5, 3],
      ['http://h/other.js', 'c', 3, 1],
    ])
    expect(out[1]?.contextLine).toBe('  throw new Error("boom")')
    expect(out[1]?.minified).toMatchObject({ function: 'b', lineno: 1, colno: 31 })
    expect(enclosingFunction(['const run = async () => {', '  go()'], 1)).toBe('run')
  })
})

describe('issues', () => {
  const grouping = { key: 'k', by: 'stacktrace' as const, title: 't', culprit: 'c' }
  it('regress when a resolved issue recurs in a release first seen after the resolution', () => {
    const first = applyEvent(undefined, norm(exceptionEvent({ release: '1.0' })), grouping, NOW, false, NOW)
    const resolved = { ...first.issue, id: 1, status: 'resolved' as const, resolvedAt: NOW + 10 }
    const oldClient = applyEvent(
      resolved,
      norm(exceptionEvent({ release: '1.0' })),
      grouping,
      NOW,
      false,
      NOW + 20,
    )
    expect(oldClient.issue.status).toBe('resolved')
    expect(oldClient.issue.count).toBe(2)
    const newRelease = applyEvent(
      resolved,
      norm(exceptionEvent({ release: '1.1' })),
      grouping,
      NOW + 15,
      true,
      NOW + 20,
    )
    expect(newRelease).toMatchObject({
      regressed: true,
      issue: { status: 'regressed', lastRelease: '1.1', userCount: 1 },
    })
  })

  it('call a minute a spike at the floor and three times the mean', () => {
    expect(isSpike(50, 10, 50)).toBe(true)
    expect(isSpike(49, 1, 50)).toBe(false)
    expect(isSpike(100, 40, 50)).toBe(false)
  })
})

import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { LogQuery } from '../../workers/logs/logql/ast'
import { LogQLError, parseDuration, parseLogQL } from '../../workers/logs/logql/parser'
import { compilePipeline, jsonFields, logfmtFields, renderTemplate } from '../../workers/logs/logql/pipeline'
import { indexedFields, planQuery } from '../../workers/logs/plan'

describe('LogQL parser', () => {
  it('parses a log query with every stage kind', () => {
    expect(
      parseLogQL(
        '{app="a", env!~"dev|test"} |= "x" != `y` | json | level="error" or n >= 2.5 | line_format "{{.msg}}"',
      ),
    ).toEqual({
      type: 'log',
      selector: [
        { name: 'app', op: '=', value: 'a' },
        { name: 'env', op: '!~', value: 'dev|test' },
      ],
      stages: [
        { kind: 'line', op: '|=', value: 'x' },
        { kind: 'line', op: '!=', value: 'y' },
        { kind: 'json' },
        {
          kind: 'label',
          filter: {
            kind: 'or',
            left: { kind: 'compare', name: 'level', op: '=', value: 'error' },
            right: { kind: 'compare', name: 'n', op: '>=', value: 2.5 },
          },
        },
        { kind: 'line_format', template: '{{.msg}}' },
      ],
    })
  })

  it('parses metric queries with grouping before or after the argument', () => {
    const a = parseLogQL('sum by (app) (rate({app="a"}[5m]))')
    const b = parseLogQL('sum(rate({app="a"}[5m])) by (app)')
    expect(a).toEqual(b)
    expect(parseLogQL('topk(3, count_over_time({app="a"} | logfmt [1h30m]))')).toMatchObject({
      type: 'topk',
      k: 3,
      inner: { type: 'range', fn: 'count_over_time', rangeMs: 5_400_000 },
    })
  })

  it('reads durations', () => {
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('1h30m')).toBe(5_400_000)
    expect(parseDuration('2d')).toBe(172_800_000)
  })

  it.each([
    '{app="a"',
    '{}',
    '{app=""}',
    '{app=~".*"}',
    '{app="a"} |~ "["',
    '{app="a"} | level > "x"',
    'rate({app="a"})',
    'topk(0, rate({app="a"}[1m]))',
    '{app="a"} extra',
    'unknown({app="a"}[1m])',
  ])('rejects %s', (query) => {
    expect(() => parseLogQL(query)).toThrow(LogQLError)
  })
})

describe('pipeline', () => {
  it('flattens JSON like Loki, skipping arrays', () => {
    expect(jsonFields('{"a":{"b":1,"c":[1]},"d":null,"e":true}')).toEqual([
      ['a_b', '1'],
      ['d', ''],
      ['e', 'true'],
    ])
    expect(jsonFields('not json')).toBeUndefined()
  })

  it('reads logfmt with quoted values', () => {
    expect(logfmtFields('level=info msg="a \\"b\\" c" flag')).toEqual([
      ['level', 'info'],
      ['msg', 'a "b" c'],
      ['flag', ''],
    ])
  })

  it('renders line_format templates', () => {
    expect(renderTemplate('{{.a}}-{{ .b }}-{{__line__}}', 'L', { a: '1' })).toBe('1--L')
  })

  it('renames parsed fields that clash with stream labels', () => {
    const run = compilePipeline(parseLogQL('{app="a"} | json') as LogQuery)
    expect(run('{"app":"x"}', { app: 'a' })?.labels).toEqual({ app: 'a', app_extracted: 'x' })
  })
})

describe('field index plans', () => {
  const key = fc.stringMatching(/^[a-z][a-z_]{0,5}$/)
  const value = fc.string({ minLength: 1, maxLength: 12 })

  it('indexes every field a JSON or logfmt equality filter can accept (a superset)', () => {
    fc.assert(
      fc.property(fc.dictionary(key, value, { minKeys: 1, maxKeys: 5 }), fc.boolean(), (fields, asJson) => {
        const line = asJson
          ? JSON.stringify(fields)
          : Object.entries(fields)
              .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
              .join(' ')
        const indexed = new Set(indexedFields(line, undefined).map(([k, v]) => `${k}\n${v}`))
        for (const [name, wanted] of Object.entries(fields)) {
          const query = parseLogQL(
            `{app="a"} | ${asJson ? 'json' : 'logfmt'} | ${name}=${JSON.stringify(wanted)}`,
          ) as LogQuery
          const accepted = compilePipeline(query)(line, { app: 'a' }) !== undefined
          const plan = planQuery(query, new Set(['app']))
          for (const [n, v] of plan.fields) if (accepted) expect(indexed.has(`${n}\n${v}`)).toBe(true)
        }
      }),
    )
  })
})

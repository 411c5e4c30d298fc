import { describe, expect, it } from 'vitest'
import { parseExposition } from '../../workers/monitoring/exposition'
import { selectorsOf } from '../../workers/monitoring/promql/ast'
import { Evaluator, type SelectorData } from '../../workers/monitoring/promql/evaluate'
import { bucketQuantile } from '../../workers/monitoring/promql/functions'
import { PromQLError, parsePromQL } from '../../workers/monitoring/promql/parser'
import type { Series } from '../../workers/monitoring/series'

/** Evaluates `query` at `t` over `series` (every selector sees every series it matches). */
function run(query: string, series: Series[], t: number, bounds?: { start: number; end: number }) {
  const expr = parsePromQL(query)
  const data: SelectorData = new Map()
  for (const { selector } of selectorsOf(expr)) {
    data.set(
      selector,
      series.filter((s) =>
        selector.matchers.every((m) => (m.op === '=' ? s.labels[m.name] === m.value : true)),
      ),
    )
  }
  return new Evaluator(data, bounds).eval(expr, t)
}

describe('PromQL parser', () => {
  it('refuses bad input with PromQLError', () => {
    for (const bad of [
      'sum(',
      'foo{a=}',
      '{a=""}',
      'rate(foo[5x])',
      '1 > 2',
      'foo[5m][10m:1m]',
      'foo[5m:0s]',
      'foo @ 1 @ 2',
      'foo offset 1m offset 2m',
      'sum(foo) offset 1m',
      'foo @ bar',
      'time()[5m:1m]',
      '"unterminated',
    ]) {
      expect(() => {
        const expr = parsePromQL(bad)
        run(bad, [], 0)
        return expr
      }, bad).toThrow(PromQLError)
    }
  })

  it('binds ^ to the right and * before +', () => {
    expect(run('2 ^ 3 ^ 2', [], 0)).toEqual({ type: 'scalar', value: 512 })
    expect(run('1 + 2 * 3', [], 0)).toEqual({ type: 'scalar', value: 7 })
    expect(run('-2 ^ 2', [], 0)).toEqual({ type: 'scalar', value: -4 })
  })
})

describe('PromQL evaluation', () => {
  const series = parseExposition(
    ['a{job="x"} 1 0', 'a{job="x"} 5 60000', 'a{job="y"} 2 0', 'a{job="y"} 4 60000'].join('\n'),
    0,
  )

  it('takes the latest sample within the lookback and applies offset', () => {
    expect(run('a{job="x"}', series, 90_000)).toMatchObject({ samples: [{ value: 5 }] })
    expect(run('a{job="x"} offset 1m', series, 60_000)).toMatchObject({ samples: [{ value: 1 }] })
    expect(run('a{job="x"}', series, 60_000 + 5 * 60_000 + 1)).toMatchObject({ samples: [] })
  })

  it('aggregates by and without, and matches vectors with group_left', () => {
    expect(run('sum(a)', series, 60_000)).toMatchObject({ samples: [{ labels: {}, value: 9 }] })
    const info = parseExposition('info{job="x",team="t1"} 1 0\ninfo{job="y",team="t2"} 1 0', 0)
    const joined = run('a * on (job) group_left (team) info', [...series, ...info], 60_000)
    expect(joined).toMatchObject({
      samples: [
        { labels: { job: 'x', team: 't1' }, value: 5 },
        { labels: { job: 'y', team: 't2' }, value: 4 },
      ],
    })
  })

  it('refuses many-to-many matching', () => {
    expect(() => run('a + on () a', series, 60_000)).toThrow(/many-to-many|multiple matches/)
  })

  it('absent names the equality matchers', () => {
    expect(run('absent(nope{job="z"})', series, 0)).toEqual({
      type: 'vector',
      samples: [{ labels: { job: 'z' }, value: 1 }],
    })
  })

  it('interpolates histogram quantiles like Prometheus', () => {
    const buckets = [
      { upper: 0.1, count: 10 },
      { upper: 0.5, count: 30 },
      { upper: Number.POSITIVE_INFINITY, count: 40 },
    ]
    expect(bucketQuantile(0.5, buckets)).toBeCloseTo(0.1 + 0.4 * (10 / 20))
    expect(bucketQuantile(0.99, buckets)).toBe(0.5)
    expect(bucketQuantile(0.5, [{ upper: 1, count: 3 }])).toBeNaN()
  })
})

describe('PromQL calendar functions', () => {
  it('read UTC fields of time() or of each sample value, dropping the name', () => {
    // 2024-02-29T13:45:30Z, a Thursday, day 60 of a leap year.
    const t = Date.UTC(2024, 1, 29, 13, 45, 30)
    const at = (q: string) => (run(q, [], t) as { samples: Array<{ value: number }> }).samples[0]?.value
    expect([at('minute()'), at('hour()'), at('day_of_week()'), at('day_of_month()')]).toEqual([45, 13, 4, 29])
    expect([at('day_of_year()'), at('days_in_month()'), at('month()'), at('year()')]).toEqual([
      60, 29, 2, 2024,
    ])
    expect(at('month(vector(1700000000.9))')).toBe(11)
    expect(run('hour(a)', parseExposition('a{job="x"} 7200 0', 0), 0)).toMatchObject({
      samples: [{ labels: { job: 'x' }, value: 2 }],
    })
    expect(() => run('minute(1, 2)', [], t)).toThrow(PromQLError)
  })
})

describe('PromQL label functions', () => {
  const series = parseExposition(
    'up{instance="host-1:9100",job="node"} 1 0\nup{instance="db:5432",job="pg"} 0 0',
    0,
  )
  const labelsOf = (q: string) =>
    (run(q, series, 0) as { samples: Array<{ labels: Record<string, string> }> }).samples.map((s) => s.labels)

  it('label_replace anchors the regex and expands $1, {1} and named groups', () => {
    expect(labelsOf('label_replace(up, "host", "$1", "instance", "(.*):.*")')).toEqual([
      { __name__: 'up', instance: 'host-1:9100', job: 'node', host: 'host-1' },
      { __name__: 'up', instance: 'db:5432', job: 'pg', host: 'db' },
    ])
    // Not anchored at both ends → "host" matches neither value wholly: labels untouched.
    expect(labelsOf('label_replace(up, "x", "y", "instance", "host")')).toEqual(series.map((s) => s.labels))
    expect(
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a PromQL replacement template
      labelsOf('label_replace(up{job="node"}, "port", "${p}-$1x-${1}$$", "instance", "(.*):(?P<p>\\\\d+)")'),
    ).toEqual([{ __name__: 'up', instance: 'host-1:9100', job: 'node', port: '9100--host-1$' }])
  })

  it('an empty replacement removes the label; label_join joins with the separator', () => {
    expect(labelsOf('label_replace(up{job="pg"}, "job", "", "job", ".*")')).toEqual([
      { __name__: 'up', instance: 'db:5432' },
    ])
    expect(labelsOf('label_join(up{job="pg"}, "id", "/", "job", "nope", "instance")')).toEqual([
      { __name__: 'up', instance: 'db:5432', job: 'pg', id: 'pg//db:5432' },
    ])
    expect(labelsOf('label_join(up{job="pg"}, "job", ",")')).toEqual([
      { __name__: 'up', instance: 'db:5432' },
    ])
  })

  it('refuses bad label names, bad regexes and duplicate label sets', () => {
    for (const bad of [
      'label_replace(up, "1x", "", "job", ".*")',
      'label_replace(up, "x", "", "job", "(")',
      'label_join(up, "x-y", ",", "job")',
      'label_join(up, "x", ",", "a.b")',
      'label_join(up, "x")',
      'label_replace(up, "x", "y", "job")',
    ])
      expect(() => run(bad, series, 0), bad).toThrow(PromQLError)
    expect(() =>
      run('label_replace(label_replace(up, "job", "", "job", ".*"), "instance", "i", "job", "")', series, 0),
    ).toThrow(/same labelset/)
  })
})

describe('PromQL @ modifier and subqueries', () => {
  const series = parseExposition('a{job="x"} 1 0\na{job="x"} 5 60000', 0)
  // c grows by 60 every minute from 0 at t=0 to 600 at t=600s: a rate of exactly 1/s.
  const counter = parseExposition(
    Array.from({ length: 11 }, (_, i) => `c ${i * 60} ${i * 60_000}`).join('\n'),
    0,
  )
  const value = (q: string, t: number, bounds?: { start: number; end: number }) =>
    (run(q, [...series, ...counter], t, bounds) as { samples: Array<{ value: number }> }).samples.map(
      (s) => s.value,
    )

  it('@ pins selectors to a time, before or after offset, and to start() or end()', () => {
    expect(value('a', 600_000)).toEqual([]) // the 60s sample is beyond the 5m lookback
    expect(value('a @ 0', 600_000)).toEqual([1])
    expect(value('a @ 120 offset 1m', 0)).toEqual([5])
    expect(value('a offset 1m @ 60', 0)).toEqual([1])
    expect(value('a @ start()', 600_000, { start: 0, end: 60_000 })).toEqual([1])
    expect(value('a @ end()', 0, { start: 0, end: 60_000 })).toEqual([5])
    expect(value('sum_over_time(a[1m] @ 60)', 999_999)).toEqual([6])
  })

  it('subqueries evaluate at absolute multiples of the step inside [t - range, t]', () => {
    // At 90s over 2m every 30s: -30s (no sample yet), 0, 30s, 60s, 90s.
    expect(run('a[2m:30s]', series, 90_000)).toMatchObject({
      type: 'matrix',
      series: [{ times: [0, 30_000, 60_000, 90_000], values: [1, 1, 5, 5] }],
    })
    // At 100s over 1m every 30s: 40s rounds up to 60s, then 90s.
    expect(run('a[1m:30s]', series, 100_000)).toMatchObject({ series: [{ times: [60_000, 90_000] }] })
    // Without a step, every minute: -60s, 0, 60s, 120s (three with a sample).
    expect(value('count_over_time(a[3m:])', 120_000)).toEqual([3])
    // Offset and @ move the window to end at 60s: -240s … 60s, samples at 0 and 60s.
    expect(value('count_over_time(a[5m:1m] offset 1m @ 120)', 0)).toEqual([2])
  })

  it('rate and *_over_time take subqueries, nested', () => {
    // rate(c[2m]) is 1 at each of 300s, 360s, … 600s.
    expect(value('sum_over_time(rate(c[2m])[5m:1m])', 600_000)[0]).toBeCloseTo(6)
    expect(value('max_over_time(rate(c[2m])[5m:1m] @ 600)', 0)[0]).toBeCloseTo(1)
    expect(value('count_over_time(count_over_time(c[1m])[2m:1m])', 600_000)).toEqual([3])
  })
})

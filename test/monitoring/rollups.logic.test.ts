import { describe, expect, it } from 'vitest'
import { selectorsOf } from '../../workers/monitoring/promql/ast'
import { Evaluator, type SelectorData } from '../../workers/monitoring/promql/evaluate'
import { parsePromQL } from '../../workers/monitoring/promql/parser'
import { bucketize, planRollups, syntheticRanges } from '../../workers/monitoring/rollups'
import { seriesKey } from '../../workers/monitoring/series'

const H = 3_600_000
const T0 = Date.UTC(2026, 0, 1)

/** Deterministic pseudo-random samples every 15 s (some exactly on minute and hour boundaries). */
function series(labels: Record<string, string>, seed: number, hours: number) {
  let x = seed
  const next = () => {
    x = (x * 1_103_515_245 + 12_345) % 2 ** 31
    return x / 2 ** 31
  }
  const times: number[] = []
  const values: number[] = []
  for (let t = T0; t <= T0 + hours * H; t += 15_000) {
    if (next() < 0.1) continue // gaps
    times.push(t)
    values.push(Math.round(next() * 1000) / 10)
  }
  return { labels: { __name__: 'latency', ...labels }, times, values }
}

const DATA = [
  series({ job: 'a', i: '1' }, 7, 26),
  series({ job: 'a', i: '2' }, 11, 26),
  series({ job: 'b', i: '1' }, 13, 26),
]

function evaluate(query: string, start: number, end: number, step: number, rollups: boolean) {
  const parsed = parsePromQL(query)
  const plan = rollups ? planRollups(parsed, start, step) : undefined
  const data: SelectorData = new Map()
  if (plan) {
    for (const s of plan.selectors) {
      const matched = DATA.filter((d) =>
        s.selector.matchers.every(
          (m) => m.op === '=' && (d.labels as Record<string, string>)[m.name] === m.value,
        ),
      )
      data.set(
        s.selector,
        syntheticRanges(
          matched.map((d) => ({ labels: d.labels, buckets: bucketize(d.times, d.values, plan.res) })),
          s.fn,
          plan.res,
        ),
      )
    }
  } else {
    for (const { selector } of selectorsOf(parsed)) {
      data.set(
        selector,
        DATA.filter((d) =>
          selector.matchers.every(
            (m) => m.op === '=' && (d.labels as Record<string, string>)[m.name] === m.value,
          ),
        ),
      )
    }
  }
  const evaluator = new Evaluator(data)
  const out = new Map<string, number[]>()
  for (let t = start; t <= end; t += step) {
    const v = evaluator.eval(plan?.expr ?? parsed, t)
    if (v.type !== 'vector') throw new Error(v.type)
    for (const s of v.samples) out.set(`${t}${seriesKey(s.labels)}`, [s.value])
  }
  return { out, plan }
}

describe('rollups', () => {
  it('buckets samples into (end − res, end] with min, max, sum, count and the last sample', () => {
    const b = bucketize([60_000, 61_000, 119_000, 120_000, 121_000], [5, 1, 3, 7, 2], 60_000)
    expect(b).toEqual([
      { end: 60_000, min: 5, max: 5, sum: 5, count: 1, last: 5, lastT: 60_000 },
      { end: 120_000, min: 1, max: 7, sum: 11, count: 3, last: 7, lastT: 120_000 },
      { end: 180_000, min: 2, max: 2, sum: 2, count: 1, last: 2, lastT: 121_000 },
    ])
  })

  const queries = [
    'max_over_time(latency[1h])',
    'min_over_time(latency[2h])',
    'sum_over_time(latency[1h])',
    'count_over_time(latency[1h])',
    'avg_over_time(latency{job="a"}[3h])',
    'last_over_time(latency[1h])',
    'sum by (job) (max_over_time(latency[1h])) - on() group_left min(min_over_time(latency[1h] offset 1h))',
    'count_over_time(latency[5m])',
  ]
  for (const query of queries) {
    it(`answers ${query} from rollups as from raw samples`, () => {
      for (const [step, res] of [
        [H, H],
        [5 * 60_000, 60_000],
      ] as const) {
        const start = T0 + 2 * H
        const end = T0 + 26 * H
        const raw = evaluate(query, start, end, step, false)
        const rolled = evaluate(query, start, end, step, true)
        if (query.includes('[5m]') && res === H) {
          expect(rolled.plan?.res).toBe(60_000)
          continue
        }
        expect(rolled.plan?.res).toBe(res)
        expect(raw.out.size).toBeGreaterThan(20)
        expect([...rolled.out.keys()]).toEqual([...raw.out.keys()])
        for (const [key, [value]] of raw.out) expect(rolled.out.get(key)?.[0]).toBeCloseTo(value as number, 6)
      }
    })
  }

  it('falls back to raw samples when the rollups would not give the same answer', () => {
    const q = (text: string, start = T0, step = H) => planRollups(parsePromQL(text), start, step)
    expect(q('rate(latency[1h])')).toBeUndefined()
    expect(q('latency')).toBeUndefined()
    expect(q('max_over_time(latency[90s])')).toBeUndefined()
    expect(q('max_over_time(latency[1h])', T0 + 30_000)).toBeUndefined()
    expect(q('max_over_time(latency[1h])', T0, 30_000)).toBeUndefined()
    expect(q('max_over_time(latency[1h]) / latency')).toBeUndefined()
    expect(q('quantile_over_time(0.9, latency[1h])')).toBeUndefined()
    expect(q('max_over_time(latency[1h] offset 30m)')?.res).toBe(60_000)
  })
})

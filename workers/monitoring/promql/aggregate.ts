/**
 * PromQL aggregation operators over one instant vector: grouping `by`/`without` (which
 * drops the metric name), `sum`/`avg` (incremental mean)/`min`/`max` (NaN loses to any
 * number)/`count`/`group`/`quantile`/`stddev`/`stdvar`, and `topk`/`bottomk` keeping the
 * members' labels. Cost: O(samples) per step, O(samples log samples) for topk/bottomk.
 */
import { type Labels, seriesKey } from '../series'
import type { Expr } from './ast'
import { quantile } from './functions'
import type { Sample } from './sample'

export function aggregate(
  expr: Extract<Expr, { kind: 'aggregate' }>,
  samples: Sample[],
  param: number,
): Sample[] {
  const groups = new Map<string, { labels: Labels; members: Sample[] }>()
  for (const s of samples) {
    let labels: Labels
    if (expr.without) {
      const drop = new Set(['__name__', ...(expr.grouping ?? [])])
      labels = Object.fromEntries(Object.entries(s.labels).filter(([k]) => !drop.has(k)))
    } else {
      labels = Object.fromEntries(
        (expr.grouping ?? []).filter((k) => k in s.labels).map((k) => [k, s.labels[k] as string]),
      )
    }
    const key = seriesKey(labels)
    const group = groups.get(key) ?? { labels, members: [] }
    group.members.push(s)
    groups.set(key, group)
  }
  const out: Sample[] = []
  for (const { labels, members } of groups.values()) {
    const values = members.map((m) => m.value)
    switch (expr.op) {
      case 'topk':
      case 'bottomk': {
        const sign = expr.op === 'topk' ? -1 : 1
        const k = Math.floor(param)
        out.push(...[...members].sort((a, b) => sign * (a.value - b.value)).slice(0, Math.max(0, k)))
        continue
      }
      case 'sum':
        out.push({ labels, value: values.reduce((a, b) => a + b, 0) })
        break
      case 'avg': {
        let m = 0
        values.forEach((v, i) => {
          m += (v - m) / (i + 1)
        })
        out.push({ labels, value: m })
        break
      }
      case 'min':
        out.push({ labels, value: values.reduce((a, b) => (b < a || Number.isNaN(a) ? b : a)) })
        break
      case 'max':
        out.push({ labels, value: values.reduce((a, b) => (b > a || Number.isNaN(a) ? b : a)) })
        break
      case 'count':
        out.push({ labels, value: values.length })
        break
      case 'group':
        out.push({ labels, value: 1 })
        break
      case 'quantile':
        out.push({ labels, value: quantile(param, values) })
        break
      case 'stddev':
      case 'stdvar': {
        const m = values.reduce((a, b) => a + b, 0) / values.length
        const variance = values.reduce((a, v) => a + (v - m) ** 2, 0) / values.length
        out.push({ labels, value: expr.op === 'stddev' ? Math.sqrt(variance) : variance })
        break
      }
    }
  }
  return out
}

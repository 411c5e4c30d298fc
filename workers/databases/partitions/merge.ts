/**
 * The gather half of scatter-gather: the shards' answers to a `ScatterSelect` made into the
 * answer one database holding all the rows would give (its rows, in its order; floating-point
 * sums may differ in the last bits, as they would with another summation order).
 *
 * Order of work: combine rows by group (partial aggregates: counts and sums add, MIN/MAX by
 * SQLite's value order, AVG = Σsum / Σcount), DISTINCT, ORDER BY (SQLite's order, NULLs first
 * ascending), OFFSET/LIMIT, then drop the hidden columns. Groups of a GROUP BY without ORDER
 * BY come out in group-key order, as SQLite's sorter produces them.
 */
import type { ScatterSelect } from './select'
import { addSqlNumbers, compareSqlValues, rowKeyOf, type SqlValue } from './values'

export interface Column {
  name: string
  decltype: string | null
}

export interface ShardRows {
  columns: Column[]
  rows: SqlValue[][]
}

function combine(fn: string, a: SqlValue, b: SqlValue): SqlValue {
  if (a === null) return b
  if (b === null) return a
  switch (fn) {
    case 'min':
      return compareSqlValues(b, a) < 0 ? b : a
    case 'max':
      return compareSqlValues(b, a) > 0 ? b : a
    default:
      // count, sum, total, and avg's sum
      return addSqlNumbers(a as bigint | number, b as bigint | number)
  }
}

export function gather(select: ScatterSelect, answers: readonly ShardRows[]): ShardRows {
  const first = answers[0]
  if (first === undefined) return { columns: [], rows: [] }
  const width = first.columns.length
  const column = (c: number) => (c >= 0 ? c : width - select.hidden + (-c - 1))
  let rows = answers.flatMap((answer) => answer.rows.map((row) => [...row]))

  if (select.grouped) {
    const keyColumns = select.groupColumns.map(column)
    const groups = new Map<string, SqlValue[]>()
    for (const row of rows) {
      const key = rowKeyOf(row, keyColumns)
      const group = groups.get(key)
      if (group === undefined) {
        groups.set(key, row)
        continue
      }
      for (const aggregate of select.aggregates) {
        const at = column(aggregate.column)
        group[at] = combine(aggregate.fn, group[at] ?? null, row[at] ?? null)
        if (aggregate.countColumn !== undefined) {
          const countAt = column(aggregate.countColumn)
          group[countAt] = combine('count', group[countAt] ?? null, row[countAt] ?? null)
        }
      }
    }
    rows = [...groups.values()]
    for (const row of rows)
      for (const aggregate of select.aggregates) {
        if (aggregate.fn !== 'avg' || aggregate.countColumn === undefined) continue
        const sum = row[column(aggregate.column)] ?? null
        const count = Number(row[column(aggregate.countColumn)] ?? 0)
        row[column(aggregate.column)] = count === 0 || sum === null ? null : Number(sum) / count
      }
    if (select.order.length === 0 && keyColumns.length > 0)
      rows.sort((a, b) =>
        compareBy(
          a,
          b,
          keyColumns.map((c) => ({ column: c, descending: false, nullsFirst: true })),
        ),
      )
  }

  const visibleWidth = width - select.hidden
  if (select.distinct) {
    const seen = new Set<string>()
    const visible = Array.from({ length: visibleWidth }, (_, i) => i)
    rows = rows.filter((row) => {
      const key = rowKeyOf(row, visible)
      if (seen.has(key)) return false
      seen.add(key)
      return true
    })
  }
  if (select.order.length > 0) {
    const terms = select.order.map((term) => ({ ...term, column: column(term.column) }))
    rows.sort((a, b) => compareBy(a, b, terms))
  }
  const end = select.limit === undefined ? undefined : select.offset + select.limit
  rows = rows.slice(select.offset, end)
  return {
    columns: first.columns.slice(0, visibleWidth),
    rows: select.hidden > 0 ? rows.map((row) => row.slice(0, visibleWidth)) : rows,
  }
}

function compareBy(
  a: readonly SqlValue[],
  b: readonly SqlValue[],
  terms: ReadonlyArray<{ column: number; descending: boolean; nullsFirst: boolean }>,
): number {
  for (const term of terms) {
    const x = a[term.column] ?? null
    const y = b[term.column] ?? null
    if (x === null || y === null) {
      if (x === y) continue
      return (x === null) === term.nullsFirst ? -1 : 1
    }
    const order = compareSqlValues(x, y)
    if (order !== 0) return term.descending ? -order : order
  }
  return 0
}

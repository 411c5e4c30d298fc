/**
 * Filter evaluation over one document, with Meilisearch's semantics: a condition on an
 * array field holds if it holds for any element; string equality ignores case and
 * diacritics; `>`/`<`/`TO` compare numbers (or strings when the bound is not a number);
 * `!=` is the complement of `=` (documents without the field match); `EXISTS` holds for any
 * present field, null included; `IS EMPTY` for "", [] and {}.
 *
 * Cost: linear in the filter's size times the values of the fields it names.
 */
import { type Document, rawValuesAt, valuesAt } from './fields'
import type { FilterNode } from './filter-parse'
import { inBox, inRadius } from './geo'
import { normalizeTerm } from './tokenize'

const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/

function asNumber(text: string): number | undefined {
  return NUMBER.test(text.trim()) ? Number(text) : undefined
}

function normalized(text: string): string {
  return normalizeTerm(text.trim())
}

function equals(value: unknown, literal: string): boolean {
  if (typeof value === 'number') {
    const number = asNumber(literal)
    return number !== undefined && value === number
  }
  if (typeof value === 'string') return normalized(value) === normalized(literal)
  if (typeof value === 'boolean') return String(value) === literal.trim().toLowerCase()
  return false
}

function compare(value: unknown, op: '>' | '>=' | '<' | '<=', literal: string): boolean {
  const number = asNumber(literal)
  let order: number
  if (number !== undefined) {
    if (typeof value !== 'number') return false
    order = value - number
  } else {
    if (typeof value !== 'string') return false
    const a = normalized(value)
    const b = normalized(literal)
    order = a < b ? -1 : a > b ? 1 : 0
  }
  if (op === '>') return order > 0
  if (op === '>=') return order >= 0
  if (op === '<') return order < 0
  return order <= 0
}

function isEmpty(value: unknown): boolean {
  if (value === '') return true
  if (Array.isArray(value)) return value.length === 0
  return value !== null && typeof value === 'object' && Object.keys(value).length === 0
}

export function matchesFilter(node: FilterNode | undefined, document: Document): boolean {
  if (!node) return true
  switch (node.kind) {
    case 'and':
      return node.items.every((item) => matchesFilter(item, document))
    case 'or':
      return node.items.some((item) => matchesFilter(item, document))
    case 'not':
      return !matchesFilter(node.item, document)
    case 'compare': {
      const { values } = valuesAt(document, node.attribute)
      if (node.op === '=') return values.some((value) => equals(value, node.value))
      if (node.op === '!=') return !values.some((value) => equals(value, node.value))
      const op = node.op
      return values.some((value) => compare(value, op, node.value))
    }
    case 'range': {
      const { values } = valuesAt(document, node.attribute)
      return values.some((value) => compare(value, '>=', node.from) && compare(value, '<=', node.to))
    }
    case 'in': {
      const { values } = valuesAt(document, node.attribute)
      return values.some((value) => node.values.some((literal) => equals(value, literal)))
    }
    case 'exists':
      return valuesAt(document, node.attribute).found
    case 'null':
      return rawValuesAt(document, node.attribute).raw.some((value) => value === null)
    case 'empty':
      return rawValuesAt(document, node.attribute).raw.some(isEmpty)
    case 'geoRadius':
      return inRadius(document, node.center, node.meters)
    case 'geoBox':
      return inBox(document, node.topRight, node.bottomLeft)
  }
}

/**
 * Document fields by dotted path: `a.b` reaches `{a: {b: 1}}` and `{"a.b": 1}`, and
 * through arrays (`tags.name` over `[{name}, {name}]`). `flattenStrings` lists the text a
 * document contributes to the index, field by field.
 *
 * Cost: linear in the size of the document.
 */

export type Document = Record<string, unknown>

/** The values at a dotted path as stored (arrays kept whole); `found` says whether the path exists. */
export function rawValuesAt(document: unknown, path: string): { found: boolean; raw: unknown[] } {
  const raw: unknown[] = []
  let found = false
  const walk = (node: unknown, rest: string) => {
    if (Array.isArray(node)) {
      for (const item of node) walk(item, rest)
      return
    }
    if (node === null || typeof node !== 'object') return
    const record = node as Record<string, unknown>
    if (Object.hasOwn(record, rest)) {
      found = true
      raw.push(record[rest])
    }
    for (let dot = rest.indexOf('.'); dot > 0; dot = rest.indexOf('.', dot + 1)) {
      const head = rest.slice(0, dot)
      if (Object.hasOwn(record, head)) walk(record[head], rest.slice(dot + 1))
    }
  }
  walk(document, path)
  return { found, raw }
}

/** The values at a dotted path with arrays flattened. */
export function valuesAt(document: unknown, path: string): { found: boolean; values: unknown[] } {
  const { found, raw } = rawValuesAt(document, path)
  return { found, values: raw.flat(Number.POSITIVE_INFINITY) }
}

/** The raw value at a dotted path (first match), for sorting and display. */
export function valueAt(document: unknown, path: string): unknown {
  const { found, values } = valuesAt(document, path)
  if (!found) return undefined
  return values.length === 1 ? values[0] : values
}

/** Every string (and number) leaf of a document as `[dotted field, text]`, in document order. */
export function flattenStrings(document: Document): Array<[string, string]> {
  const out: Array<[string, string]> = []
  const walk = (node: unknown, path: string) => {
    if (typeof node === 'string') out.push([path, node])
    else if (typeof node === 'number' && Number.isFinite(node)) out.push([path, String(node)])
    else if (Array.isArray(node)) for (const item of node) walk(item, path)
    else if (node !== null && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) walk(value, path ? `${path}.${key}` : key)
    }
  }
  walk(document, '')
  return out
}

/** A copy of a document holding only the fields covered by the patterns (`*` = all). */
export function pick(document: Document, patterns: readonly string[]): Document {
  if (patterns.includes('*')) return document
  const out: Document = {}
  for (const pattern of patterns) {
    const value = valueAt(document, pattern)
    if (value !== undefined) out[pattern] = value
  }
  return out
}

/** The value a document is distinct by (its first value of the attribute), or undefined without one. */
export function distinctValue(document: Document, attribute: string): string | undefined {
  const [first] = valuesAt(document, attribute).values
  return first === undefined ? undefined : JSON.stringify(first)
}

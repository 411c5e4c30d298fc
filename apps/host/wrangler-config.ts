/**
 * The part of wrangler.toml the host runs from, read as data so a binding added there
 * reaches the host without code changes: `[vars]`, `[alias]`, Durable Object bindings,
 * R2 buckets, service bindings (a Worker's own entrypoints), `[triggers] crons`, and the
 * binding tables the host does not provide (reported at start, never silently dropped).
 *
 * The reader covers the TOML wrangler.toml uses: `[table]` and `[[array.of.tables]]`
 * headers, `key = value` with basic or literal strings, numbers, booleans and (multi-line)
 * arrays of those, and `#` comments. Cost: one pass over the file.
 */
export type TomlValue = string | number | boolean | TomlValue[]
export type TomlTable = Record<string, TomlValue>

export interface ParsedToml {
  /** Top-level keys. */
  root: TomlTable
  /** `[name]` tables by name. */
  tables: Map<string, TomlTable>
  /** `[[name]]` arrays of tables by name. */
  arrays: Map<string, TomlTable[]>
}

function stripComment(line: string): string {
  let quote = ''
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quote) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = ''
    } else if (c === '"' || c === "'") quote = c
    else if (c === '#') return line.slice(0, i)
  }
  return line
}

function parseValue(source: string): TomlValue {
  const text = source.trim()
  if (text.startsWith('"')) return JSON.parse(text) as string
  if (text.startsWith("'")) return text.slice(1, -1)
  if (text === 'true' || text === 'false') return text === 'true'
  if (text.startsWith('[')) {
    const items: TomlValue[] = []
    const inner = text.slice(1, -1)
    let quote = ''
    let start = 0
    for (let i = 0; i <= inner.length; i++) {
      const c = inner[i]
      if (quote) {
        if (c === '\\' && quote === '"') i++
        else if (c === quote) quote = ''
      } else if (c === '"' || c === "'") quote = c
      else if (c === ',' || i === inner.length) {
        const item = inner.slice(start, i).trim()
        if (item) items.push(parseValue(item))
        start = i + 1
      }
    }
    return items
  }
  const number = Number(text.replaceAll('_', ''))
  if (text !== '' && Number.isFinite(number)) return number
  throw new SyntaxError(`Unsupported TOML value: ${text}`)
}

/** Brackets still open in `text` outside strings (a multi-line array continues while > 0). */
function openBrackets(text: string): number {
  let depth = 0
  let quote = ''
  for (let i = 0; i < text.length; i++) {
    const c = text[i]
    if (quote) {
      if (c === '\\' && quote === '"') i++
      else if (c === quote) quote = ''
    } else if (c === '"' || c === "'") quote = c
    else if (c === '[') depth++
    else if (c === ']') depth--
  }
  return depth
}

export function parseToml(text: string): ParsedToml {
  const parsed: ParsedToml = { root: {}, tables: new Map(), arrays: new Map() }
  let current = parsed.root
  let pending = ''
  for (const rawLine of text.split(/\r?\n/)) {
    const line = stripComment(rawLine).trim()
    if (pending) {
      pending += ` ${line}`
      if (openBrackets(pending) > 0) continue
    } else {
      if (!line) continue
      const arrayHeader = /^\[\[\s*([^\]]+?)\s*\]\]$/.exec(line)
      if (arrayHeader?.[1]) {
        const name = arrayHeader[1]
        current = {}
        parsed.arrays.set(name, [...(parsed.arrays.get(name) ?? []), current])
        continue
      }
      const header = /^\[\s*([^\]]+?)\s*\]$/.exec(line)
      if (header?.[1]) {
        current = parsed.tables.get(header[1]) ?? {}
        parsed.tables.set(header[1], current)
        continue
      }
      pending = line
      if (openBrackets(pending) > 0) continue
    }
    const assignment = /^("[^"]+"|'[^']+'|[A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(pending)
    pending = ''
    if (!assignment?.[1]) throw new SyntaxError(`Unsupported TOML line: ${rawLine}`)
    const key = assignment[1].replace(/^["']|["']$/g, '')
    current[key] = parseValue(assignment[2] ?? '')
  }
  return parsed
}

export interface ObjectBinding {
  name: string
  className: string
}

export interface ServiceBinding {
  binding: string
  /** The Worker named in wrangler.toml (this Worker, for the entrypoints the host can serve). */
  service: string
  /** A named `WorkerEntrypoint` export, or the default export when absent. */
  entrypoint?: string
}

export interface BucketBinding {
  binding: string
  bucketName: string
}

export interface WranglerConfig {
  name: string
  vars: Record<string, string>
  alias: Record<string, string>
  bindings: ObjectBinding[]
  services: ServiceBinding[]
  buckets: BucketBinding[]
  /** `[triggers] crons`: the schedules of the Worker's `scheduled()` handler (UTC). */
  crons: string[]
  /** Binding tables present in the file that the host does not provide. */
  unsupported: string[]
}

const string = (value: TomlValue | undefined) => (typeof value === 'string' ? value : undefined)

const PROVIDED = new Set(['durable_objects.bindings', 'r2_buckets', 'services', 'migrations'])
const BINDING_TABLES = [
  'kv_namespaces',
  'd1_databases',
  'queues.producers',
  'queues.consumers',
  'vectorize',
  'hyperdrive',
  'analytics_engine_datasets',
  'ai',
  'browser',
  'workflows',
  'send_email',
  'dispatch_namespaces',
  'mtls_certificates',
  'unsafe.bindings',
]

export function wranglerConfig(text: string): WranglerConfig {
  const toml = parseToml(text)
  const asStrings = (table: TomlTable | undefined) =>
    Object.fromEntries(
      Object.entries(table ?? {}).flatMap(([k, v]) => (typeof v === 'string' ? [[k, v]] : [])),
    )
  const bindings = (toml.arrays.get('durable_objects.bindings') ?? []).flatMap((table) => {
    const name = string(table.name)
    const className = string(table.class_name)
    return name && className && !string(table.script_name) ? [{ name, className }] : []
  })
  const services = (toml.arrays.get('services') ?? []).flatMap((table) => {
    const binding = string(table.binding)
    const service = string(table.service)
    if (!binding || !service) return []
    const entrypoint = string(table.entrypoint)
    return [{ binding, service, ...(entrypoint ? { entrypoint } : {}) }]
  })
  const buckets = (toml.arrays.get('r2_buckets') ?? []).flatMap((table) => {
    const binding = string(table.binding)
    const bucketName = string(table.bucket_name) ?? binding
    return binding && bucketName ? [{ binding, bucketName }] : []
  })
  const crons = toml.tables.get('triggers')?.crons
  const unsupported = [
    ...[...toml.arrays.keys()].filter((name) => !PROVIDED.has(name) && BINDING_TABLES.includes(name)),
    ...[...toml.tables.keys()].filter((name) => BINDING_TABLES.includes(name)),
  ]
  return {
    name: string(toml.root.name) ?? 'worker',
    vars: asStrings(toml.tables.get('vars')),
    alias: asStrings(toml.tables.get('alias')),
    bindings,
    services,
    buckets,
    crons: Array.isArray(crons) ? crons.filter((cron): cron is string => typeof cron === 'string') : [],
    unsupported,
  }
}

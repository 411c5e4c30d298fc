/**
 * Zone files in the RFC 1035 §5 master format, in and out.
 *
 * Reading: `$ORIGIN`, `$TTL`, `@`, relative names, a blank first column for the previous
 * owner, TTL and class in either order, TTLs with BIND units (`1h30m`, `1d`, `2w`),
 * parentheses over several lines, quoted strings and comments. `$INCLUDE` and classes
 * other than IN are refused (a hosted zone has no file system and only the IN class).
 * Records of the same owner and type become one RRset whose TTL is the first one's
 * (RFC 2181 §5.2). Errors name the line. Writing: `$ORIGIN`, `$TTL`, then the SOA, the
 * apex NS and every other RRset in canonical order, one record per line, absolute names.
 */
import { AppError } from '../platform/errors'
import type { RRsetChange } from './records'
import { compareCanonical, fqdn, lowerName, NameError } from './wire/names'
import { absoluteName } from './wire/rdata'
import { PresentationError, scanLines, type Token } from './wire/text'
import { TYPE, typeCode, typeName } from './wire/types'
import type { RRset } from './zone'

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }

/** `3600`, `1h`, `1h30m` → seconds; undefined when the token is not a TTL. */
export function parseTtl(text: string): number | undefined {
  if (/^\d{1,10}$/.test(text)) return Number(text) <= 2_147_483_647 ? Number(text) : undefined
  if (!/^(\d{1,7}[smhdw])+$/i.test(text)) return undefined
  let total = 0
  for (const [, amount, unit] of text.toLowerCase().matchAll(/(\d+)([smhdw])/g))
    total += Number(amount) * (UNIT_SECONDS[unit as string] as number)
  return total <= 2_147_483_647 ? total : undefined
}

function contentOf(tokens: Token[]): string {
  return tokens.map((token) => (token.quoted ? `"${token.text}"` : token.text)).join(' ')
}

/** The zone file's RRsets as REPLACE changes, in file order. Throws a 400 problem naming the line. */
export function parseZoneFile(text: string, zone: string): RRsetChange[] {
  const sets = new Map<string, RRsetChange & { records: { content: string }[] }>()
  let origin = zone
  let defaultTtl: number | undefined
  let lastTtl: number | undefined
  let owner: string | undefined
  let lineNumber = 0
  try {
    for (const line of scanLines(text)) {
      lineNumber = line.number
      const tokens = [...line.tokens]
      const first = tokens[0] as Token
      if (!first.quoted && first.text.startsWith('$')) {
        const directive = first.text.toUpperCase()
        if (directive === '$ORIGIN') origin = absoluteName(tokens[1]?.text ?? '', origin)
        else if (directive === '$TTL') {
          defaultTtl = parseTtl(tokens[1]?.text ?? '')
          if (defaultTtl === undefined) throw new PresentationError('$TTL needs a TTL')
        } else throw new PresentationError(`${first.text} is not supported`)
        continue
      }
      if (!line.indented) owner = absoluteName((tokens.shift() as Token).text, origin)
      if (owner === undefined) throw new PresentationError('The first record has no owner')
      let ttl: number | undefined
      for (let k = 0; k < 2 && tokens.length > 0; k++) {
        const word = (tokens[0] as Token).text
        if (/^(IN|CH|HS|CS)$/i.test(word)) {
          if (word.toUpperCase() !== 'IN') throw new PresentationError(`Class ${word} is not supported`)
          tokens.shift()
        } else if (ttl === undefined && parseTtl(word) !== undefined) {
          ttl = parseTtl(word)
          tokens.shift()
        }
      }
      const typeText = tokens.shift()?.text ?? ''
      const type = typeCode(typeText)
      if (type === undefined) throw new PresentationError(`"${typeText}" is not a record type`)
      if (ttl !== undefined) lastTtl = ttl
      const effectiveTtl = ttl ?? defaultTtl ?? lastTtl ?? 3600
      const content = relativeContent(type, tokens, origin) ?? contentOf(tokens)
      const key = `${lowerName(owner)}|${type}`
      const set = sets.get(key) ?? {
        name: fqdn(owner),
        type: typeName(type),
        changetype: 'REPLACE' as const,
        ttl: effectiveTtl,
        records: [],
      }
      set.records.push({ content })
      sets.set(key, set)
    }
  } catch (error) {
    if (error instanceof PresentationError || error instanceof NameError) {
      const message = lineNumber > 0 ? `Line ${lineNumber}: ${error.message}` : error.message
      throw new AppError('validation_failed', message, { errors: [{ path: 'body', message }] })
    }
    throw error
  }
  return [...sets.values()]
}

/**
 * Names in RDATA are relative to the `$ORIGIN` in force, which may differ from the zone:
 * rewrite them absolute here so the zone's own parser (origin = the zone) reads the same.
 */
function relativeContent(type: number, tokens: Token[], origin: string): string | undefined {
  const namePositions: Record<number, number[]> = {
    [TYPE.NS]: [0],
    [TYPE.CNAME]: [0],
    [TYPE.PTR]: [0],
    [TYPE.SOA]: [0, 1],
    [TYPE.MX]: [1],
    [TYPE.SRV]: [3],
    [TYPE.SVCB]: [1],
    [TYPE.HTTPS]: [1],
  }
  const positions = namePositions[type]
  if (!positions || tokens[0]?.text === '\\#') return undefined
  const rewritten = tokens.map((token, i) =>
    positions.includes(i) && !token.quoted
      ? { ...token, text: fqdn(absoluteName(token.text, origin)) }
      : token,
  )
  return contentOf(rewritten)
}

/** The zone as a master file. */
export function formatZoneFile(origin: string, rrsets: RRset[], defaultTtl = 3600): string {
  const rank = (set: RRset) =>
    set.type === TYPE.SOA ? 0 : set.type === TYPE.NS && lowerName(set.name) === lowerName(origin) ? 1 : 2
  const sorted = [...rrsets].sort(
    (a, b) => rank(a) - rank(b) || compareCanonical(a.name, b.name) || a.type - b.type,
  )
  const lines = [`$ORIGIN ${fqdn(origin)}`, `$TTL ${defaultTtl}`]
  for (const set of sorted) {
    for (const record of set.records)
      lines.push(`${fqdn(set.name)}\t${set.ttl}\tIN\t${typeName(set.type)}\t${record.content}`)
  }
  return `${lines.join('\n')}\n`
}

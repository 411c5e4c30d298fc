/**
 * Domain names (RFC 1035 §2.3.4, §3.1; RFC 4343 case rules).
 *
 * A name is held as its presentation text without the trailing dot (the root is `''`):
 * labels joined by `.`, where a label byte that is `.`, `\`, a space or not printable
 * ASCII is written `\DDD` (or `\.` / `\\`). Comparisons fold ASCII letters only, so a
 * name's own case is kept for 0x20 echoing. Costs: O(length) per conversion.
 */

export const MAX_NAME_OCTETS = 255
export const MAX_LABEL_OCTETS = 63

/** Thrown on a name that cannot exist (a label over 63 octets, a name over 255). */
export class NameError extends Error {}

/** The raw labels of a name, each a string of byte values (0–255), escapes decoded. */
export function labelsOf(name: string): string[] {
  if (name === '' || name === '.') return []
  const text = name.endsWith('.') && !name.endsWith('\\.') ? name.slice(0, -1) : name
  if (!text.includes('\\')) return checkLabels(name, text.split('.'))
  const labels: string[] = []
  let label = ''
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string
    if (char === '\\') {
      const digits = text.slice(i + 1, i + 4)
      if (/^\d{3}$/.test(digits) && Number(digits) <= 255) {
        label += String.fromCharCode(Number(digits))
        i += 3
      } else if (i + 1 < text.length) {
        label += text[++i]
      } else throw new NameError(`Dangling escape in "${name}"`)
    } else if (char === '.') {
      labels.push(label)
      label = ''
    } else label += char
  }
  labels.push(label)
  return checkLabels(name, labels)
}

function checkLabels(name: string, labels: string[]): string[] {
  let octets = 1
  for (const each of labels) {
    if (each.length === 0) throw new NameError(`Empty label in "${name}"`)
    if ([...each].some((char) => char.charCodeAt(0) > 0xff))
      throw new NameError(`"${name}" has characters outside single octets (use punycode)`)
    if (each.length > MAX_LABEL_OCTETS) throw new NameError(`A label of "${name}" is over 63 octets`)
    octets += each.length + 1
  }
  if (octets > MAX_NAME_OCTETS) throw new NameError(`"${name}" is over 255 octets`)
  return labels
}

/** Presentation text of one raw label. */
export function escapeLabel(label: string): string {
  let text = ''
  for (let i = 0; i < label.length; i++) {
    const code = label.charCodeAt(i)
    const char = label[i] as string
    if (char === '.' || char === '\\' || char === '"' || char === ';' || char === '(' || char === ')')
      text += `\\${char}`
    else if (code <= 32 || code >= 127) text += `\\${String(code).padStart(3, '0')}`
    else text += char
  }
  return text
}

export function nameOf(labels: readonly string[]): string {
  return labels.map(escapeLabel).join('.')
}

/** ASCII-only lowercase (RFC 4343): bytes above 127 are not letters. */
export function lowerName(name: string): string {
  return name.replace(/[A-Z]/g, (char) => char.toLowerCase())
}

export function sameName(a: string, b: string): boolean {
  return a.length === b.length && lowerName(a) === lowerName(b)
}

/** Whether `name` is `ancestor` or below it. */
export function isAtOrBelow(name: string, ancestor: string): boolean {
  if (ancestor === '') return true
  const n = lowerName(name)
  const a = lowerName(ancestor)
  return n === a || n.endsWith(`.${a}`)
}

/** `a.b.example.com` → [`a.b.example.com`, `b.example.com`, `example.com`, `com`]. */
export function ancestorsOf(name: string): string[] {
  const labels = labelsOf(name)
  return labels.map((_, i) => nameOf(labels.slice(i)))
}

/** The name without its first label (`''` for a top-level name). */
export function parentOf(name: string): string {
  return nameOf(labelsOf(name).slice(1))
}

/** Absolute name with the trailing dot, as in zone files and dig output. */
export function fqdn(name: string): string {
  return `${name}.`
}

/** Uncompressed wire form (RFC 1035 §3.1), optionally lowercased (RFC 4034 §6.2 canonical form). */
export function nameToWire(name: string, lowercase = false): Uint8Array {
  const labels = labelsOf(lowercase ? lowerName(name) : name)
  const bytes: number[] = []
  for (const label of labels) {
    bytes.push(label.length)
    for (let i = 0; i < label.length; i++) bytes.push(label.charCodeAt(i))
  }
  bytes.push(0)
  return Uint8Array.from(bytes)
}

/**
 * Canonical DNS name order (RFC 4034 §6.1): compare label by label from the right,
 * lowercased, as unsigned octet strings.
 */
export function compareCanonical(a: string, b: string): number {
  const la = labelsOf(lowerName(a)).reverse()
  const lb = labelsOf(lowerName(b)).reverse()
  for (let i = 0; i < Math.min(la.length, lb.length); i++) {
    const x = la[i] as string
    const y = lb[i] as string
    if (x !== y) return x < y ? -1 : 1
  }
  return la.length - lb.length
}

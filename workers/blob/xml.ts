/**
 * The XML of the S3 wire: a builder for responses and a small parser for request bodies
 * (CompleteMultipartUpload, Delete, Tagging, VersioningConfiguration, CORSConfiguration,
 * LifecycleConfiguration, CreateBucketConfiguration).
 *
 * Guarantees: text and attribute values are escaped; the parser accepts elements, text,
 * CDATA, comments and the XML declaration, ignores namespaces' prefixes, rejects DTDs (no
 * entity expansion) and unbalanced tags. Costs: linear in the document; bodies are bounded
 * by the caller.
 */

export type XmlChild = XmlNode | string | number | boolean | undefined | null | XmlChild[]

export interface XmlNode {
  name: string
  children: XmlChild[]
}

export function el(name: string, ...children: XmlChild[]): XmlNode {
  return { name, children }
}

export function escapeXml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c] as string,
  )
}

function render(child: XmlChild): string {
  if (child === undefined || child === null) return ''
  if (Array.isArray(child)) return child.map(render).join('')
  if (typeof child !== 'object') return escapeXml(String(child))
  return `<${child.name}>${child.children.map(render).join('')}</${child.name}>`
}

const S3_NS = 'http://s3.amazonaws.com/doc/2006-03-01/'

/** A full document with the S3 namespace on its root element. */
export function xmlDocument(root: XmlNode, namespace: string | null = S3_NS): string {
  const ns = namespace ? ` xmlns="${namespace}"` : ''
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root.name}${ns}>${root.children.map(render).join('')}</${root.name}>`
}

export interface ParsedElement {
  name: string
  text: string
  children: ParsedElement[]
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, entity: string) => {
    if (entity.startsWith('#x')) return String.fromCodePoint(Number.parseInt(entity.slice(2), 16))
    if (entity.startsWith('#')) return String.fromCodePoint(Number(entity.slice(1)))
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[entity] as string
  })
}

/** Parses a document into its root element; undefined when it is not well-formed. */
export function parseXml(text: string): ParsedElement | undefined {
  const stack: ParsedElement[] = [{ name: '#document', text: '', children: [] }]
  const pattern =
    /<!\[CDATA\[([\s\S]*?)\]\]>|<!--[\s\S]*?-->|<\?[\s\S]*?\?>|<(\/?)([A-Za-z_][\w.:-]*)((?:\s+[^\s=/>]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*(\/?)>|<!|([^<]+)/g
  for (const match of text.matchAll(pattern)) {
    const [token, cdata, closing, rawName, , selfClosing, chars] = match
    const top = stack.at(-1) as ParsedElement
    if (cdata !== undefined) top.text += cdata
    else if (chars !== undefined) top.text += decodeEntities(chars)
    else if (token === '<!') return undefined
    else if (rawName !== undefined) {
      const name = rawName.includes(':') ? (rawName.split(':').pop() as string) : rawName
      if (closing) {
        if (stack.length < 2 || top.name !== name) return undefined
        stack.pop()
      } else {
        const element: ParsedElement = { name, text: '', children: [] }
        top.children.push(element)
        if (!selfClosing) stack.push(element)
      }
    }
  }
  const root = stack[0] as ParsedElement
  if (stack.length !== 1 || root.children.length !== 1) return undefined
  return root.children[0]
}

export function child(element: ParsedElement | undefined, name: string): ParsedElement | undefined {
  return element?.children.find((c) => c.name === name)
}

export function childrenNamed(element: ParsedElement | undefined, name: string): ParsedElement[] {
  return element?.children.filter((c) => c.name === name) ?? []
}

export function textOf(element: ParsedElement | undefined, name: string): string | undefined {
  const found = child(element, name)
  return found ? found.text.trim() : undefined
}

/**
 * The query protocol codec (pure): form-encoded `Action=…&Version=2012-11-05` parameters
 * (from a POST body or a GET query) become the action's JSON-shaped input, and its output
 * becomes SQS's XML (`<XResponse><XResult>…</XResult><ResponseMetadata>…`), errors
 * `<ErrorResponse>`. Flattened lists and maps follow shapes.ts. Decoding is strict: bad
 * percent-encoding, repeated or unknown parameters and holes in a list are refused before
 * any action runs. Costs: linear in the parameters and in the output's size.
 */
import { SqsError } from './errors'
import { ACTION_SHAPES, type Shape } from './shapes'
import { escapeXml, QUERY_NAMESPACE } from './xml'

export const QUERY_VERSION = '2012-11-05'
/** Parameters of the protocol and of signing, not of any action. */
const RESERVED =
  /^(Action|Version|X-Amz-[A-Za-z0-9-]+|AWSAccessKeyId|Signature|SignatureVersion|SignatureMethod|Timestamp|Expires)$/

function decodeComponent(text: string): string {
  try {
    return decodeURIComponent(text.replaceAll('+', ' '))
  } catch {
    throw new SqsError('MalformedQueryString', 'The query string is not valid percent-encoding.')
  }
}

/** Adds the parameters of an `application/x-www-form-urlencoded` text to `into`. */
export function parseForm(text: string, into = new Map<string, string>()): Map<string, string> {
  for (const pair of text.split('&')) {
    if (pair === '') continue
    const equals = pair.indexOf('=')
    const name = decodeComponent(equals < 0 ? pair : pair.slice(0, equals))
    const value = equals < 0 ? '' : decodeComponent(pair.slice(equals + 1))
    if (name === '') throw new SqsError('MalformedQueryString', 'A parameter has no name.')
    if (into.has(name))
      throw new SqsError('MalformedQueryString', `The parameter ${name} appears more than once.`)
    into.set(name, value)
  }
  return into
}

function memberName(member: string, shape: Shape): string {
  return shape.kind === 'list' || shape.kind === 'map' ? shape.name : member
}

function decode(shape: Shape, name: string, params: Map<string, string>, used: Set<string>): unknown {
  switch (shape.kind) {
    case 'string':
    case 'integer':
    case 'long':
    case 'boolean': {
      const value = params.get(name)
      if (value === undefined) return undefined
      used.add(name)
      if (shape.kind === 'string') return value
      if (shape.kind === 'boolean') return value === 'true' ? true : value === 'false' ? false : value
      return /^[+-]?\d{1,15}$/.test(value) ? Number(value) : value
    }
    case 'structure': {
      const out: Record<string, unknown> = {}
      for (const [member, inner] of Object.entries(shape.members)) {
        const key = memberName(member, inner)
        const value = decode(inner, name ? `${name}.${key}` : key, params, used)
        if (value !== undefined) out[member] = value
      }
      return Object.keys(out).length > 0 ? out : undefined
    }
    case 'list': {
      const items: unknown[] = []
      for (let index = 1; ; index++) {
        const item = decode(shape.item, `${name}.${index}`, params, used)
        if (item === undefined) break
        items.push(item)
      }
      return items.length > 0 ? items : undefined
    }
    case 'map': {
      const out: Record<string, unknown> = {}
      for (let index = 1; ; index++) {
        const entry = `${name}.${index}`
        const key = decode({ kind: 'string' }, `${entry}.${shape.key}`, params, used)
        const value = decode(shape.item, `${entry}.${shape.value}`, params, used)
        if (key === undefined && value === undefined) break
        if (typeof key !== 'string' || value === undefined)
          throw new SqsError(
            'MissingParameter',
            `The request must contain the parameter ${entry}.${key === undefined ? shape.key : shape.value}.`,
          )
        if (Object.hasOwn(out, key))
          throw new SqsError('InvalidParameterValue', `${shape.name} ${key} is given more than once.`)
        out[key] = value
      }
      return Object.keys(out).length > 0 ? out : undefined
    }
  }
}

/**
 * The action and its JSON-shaped input from query parameters; `impliedQueueUrl` is the
 * queue URL the request was posted to, used when the parameters name none.
 */
export function decodeQuery(
  params: Map<string, string>,
  impliedQueueUrl: string | undefined,
): { action: string; input: Record<string, unknown> } {
  const action = params.get('Action')
  if (action === undefined || action === '')
    throw new SqsError('MissingAction', 'The request must contain the parameter Action.')
  const shape = Object.hasOwn(ACTION_SHAPES, action) ? ACTION_SHAPES[action] : undefined
  if (!shape) throw new SqsError('InvalidAction', `The action ${action} is not valid for this web service.`)
  const used = new Set<string>()
  const input = (decode(shape.input, '', params, used) ?? {}) as Record<string, unknown>
  for (const name of params.keys())
    if (!used.has(name) && !RESERVED.test(name))
      throw new SqsError(
        'InvalidQueryParameter',
        `The parameter ${name} is not valid for the action ${action}.`,
      )
  if (impliedQueueUrl && 'QueueUrl' in shape.input.members && input.QueueUrl === undefined)
    input.QueueUrl = impliedQueueUrl
  return { action, input }
}

function encode(shape: Shape, value: unknown, name: string): string {
  if (value === undefined || value === null) return ''
  switch (shape.kind) {
    case 'string':
    case 'integer':
    case 'long':
    case 'boolean':
      return `<${name}>${escapeXml(String(value))}</${name}>`
    case 'structure':
      return `<${name}>${encodeMembers(shape, value as Record<string, unknown>)}</${name}>`
    case 'list':
      return (value as unknown[]).map((item) => encode(shape.item, item, shape.name)).join('')
    case 'map':
      return Object.entries(value as Record<string, unknown>)
        .map(
          ([key, item]) =>
            `<${shape.name}><${shape.key}>${escapeXml(key)}</${shape.key}>${encode(shape.item, item, shape.value)}</${shape.name}>`,
        )
        .join('')
  }
}

function encodeMembers(shape: Shape & { kind: 'structure' }, value: Record<string, unknown>): string {
  return Object.entries(shape.members)
    .map(([member, inner]) => encode(inner, value[member], memberName(member, inner)))
    .join('')
}

/** The XML response of an action's output. */
export function encodeQueryResponse(action: string, output: unknown, requestId: string): string {
  const shape = ACTION_SHAPES[action]?.output
  const result = shape
    ? `<${action}Result>${encodeMembers(shape, (output ?? {}) as Record<string, unknown>)}</${action}Result>`
    : ''
  return (
    `<?xml version="1.0"?><${action}Response xmlns="${QUERY_NAMESPACE}">${result}` +
    `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${action}Response>`
  )
}

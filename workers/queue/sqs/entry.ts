/**
 * Where SQS requests enter the Worker, before the platform's `/v1` app: `/sqs` (and any
 * path under it, since clients send to the queue URL) with either of SQS's protocols over
 * the one action layer (actions.ts):
 * - AWS JSON 1.0: `POST` with `X-Amz-Target: AmazonSQS.<Action>`, JSON in and out;
 * - query: `POST` form `Action=…&Version=2012-11-05` (or `GET` with those in the query
 *   string), XML out; posted to a queue URL, the URL is the QueueUrl parameter.
 * SigV4 with the platform's access keys (service `sqs`), SQS's error shapes per protocol;
 * the key's tenant owns every queue named.
 */
import type { Env } from '../../platform/env'
import { type KeyPrincipal, lookupAccessKey } from '../../platform/sigv4/keys'
import { sha256HexOf } from '../../platform/sigv4/signing'
import { SigV4Error, type Verified, verifyRequest } from '../../platform/sigv4/verify'
import { actionNamed } from './actions'
import { sqsContext } from './context'
import { SqsError, type SqsErrorCode, toSqsError } from './errors'
import { decodeQuery, encodeQueryResponse, parseForm } from './query'
import { SQS_MOUNT } from './queue-attributes'

const JSON_TYPE = 'application/x-amz-json-1.0'
const FORM_TYPE = 'application/x-www-form-urlencoded'
/** SQS's largest request: a 1 MiB batch plus its framing (percent-encoding for a form). */
const MAX_REQUEST_BYTES = { json: 2 * 1024 * 1024, query: 4 * 1024 * 1024 }

type Protocol = 'json' | 'query'

const SIGV4_CODES: Record<string, SqsErrorCode> = {
  MissingSecurityHeader: 'MissingAuthenticationToken',
  InvalidAccessKeyId: 'InvalidClientTokenId',
  RequestTimeTooSkewed: 'SignatureDoesNotMatch',
  ExpiredToken: 'RequestExpired',
}

export function isSqsRequest(url: URL): boolean {
  return url.pathname === SQS_MOUNT || url.pathname.startsWith(`${SQS_MOUNT}/`)
}

function mediaType(request: Request): string {
  return (request.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
}

/** The query protocol: GET, a form body, or a request naming an Action without a JSON target. */
function protocolOf(request: Request, url: URL): Protocol {
  if (request.headers.has('x-amz-target')) return 'json'
  if (request.method === 'GET' || mediaType(request) === FORM_TYPE || url.searchParams.has('Action'))
    return 'query'
  return 'json'
}

async function readBody(request: Request, protocol: Protocol): Promise<Uint8Array> {
  const limit = MAX_REQUEST_BYTES[protocol]
  const length = Number(request.headers.get('content-length') ?? '0')
  if (length > limit) throw new SqsError('BatchRequestTooLong', 'The request is too long.')
  const body = new Uint8Array(await request.clone().arrayBuffer())
  if (body.length > limit) throw new SqsError('BatchRequestTooLong', 'The request is too long.')
  return body
}

/**
 * A presigned request to a service other than S3 signs its payload's hash, not S3's
 * UNSIGNED-PAYLOAD: the verifier is told that hash when the request does not declare one.
 */
async function withPresignedPayload(request: Request, url: URL, body: Uint8Array): Promise<Request> {
  if (!url.searchParams.has('X-Amz-Signature') || url.searchParams.has('X-Amz-Content-Sha256')) return request
  if (request.headers.has('x-amz-content-sha256')) return request
  const headers = new Headers(request.headers)
  headers.set('x-amz-content-sha256', await sha256HexOf(body))
  return new Request(request.url, { method: request.method, headers })
}

async function authenticate(request: Request, env: Env, body: Uint8Array): Promise<Verified<KeyPrincipal>> {
  const now = Date.now()
  let verified: Verified<KeyPrincipal>
  try {
    verified = await verifyRequest(await withPresignedPayload(request, new URL(request.url), body), {
      lookup: (id) => lookupAccessKey(env, id, now),
      now,
      bodySha256: () => sha256HexOf(body),
    })
  } catch (error) {
    if (error instanceof SigV4Error)
      throw new SqsError(SIGV4_CODES[error.code] ?? 'SignatureDoesNotMatch', error.message)
    throw error
  }
  if (verified.scope.service !== 'sqs')
    throw new SqsError('SignatureDoesNotMatch', `Credential should be scoped to correct service: 'sqs'.`)
  if (verified.payload.kind !== 'hashed' || verified.payload.sha256 !== (await sha256HexOf(body)))
    throw new SqsError('SignatureDoesNotMatch', 'The request body does not match its signed hash.')
  return verified
}

function jsonInput(request: Request, body: Uint8Array): { action: string; input: Record<string, unknown> } {
  if (request.method !== 'POST') throw new SqsError('UnsupportedOperation', 'SQS requests are POST requests.')
  const target = request.headers.get('x-amz-target') ?? ''
  const action = target.startsWith('AmazonSQS.') ? target.slice('AmazonSQS.'.length) : ''
  if (!actionNamed(action))
    throw new SqsError(
      'UnknownOperation',
      'The action or operation requested is invalid. Verify that the action is typed correctly.',
    )
  if (mediaType(request) !== JSON_TYPE)
    throw new SqsError('MalformedInput', `Content type must be ${JSON_TYPE}.`)
  let input: unknown
  try {
    input = JSON.parse(new TextDecoder().decode(body) || '{}')
  } catch {
    throw new SqsError('MalformedInput', 'The request body is not valid JSON.')
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new SqsError('MalformedInput', 'The request body must be a JSON object.')
  return { action, input: input as Record<string, unknown> }
}

function queryInput(request: Request, url: URL, body: Uint8Array) {
  if (request.method !== 'GET' && request.method !== 'POST')
    throw new SqsError('UnsupportedOperation', 'SQS requests are GET or POST requests.')
  const params = parseForm(url.search.slice(1))
  if (body.length > 0) {
    if (mediaType(request) !== FORM_TYPE)
      throw new SqsError('MalformedQueryString', `Content type must be ${FORM_TYPE}.`)
    let text: string
    try {
      text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(body)
    } catch {
      throw new SqsError('MalformedQueryString', 'The request body is not UTF-8.')
    }
    parseForm(text, params)
  }
  const queuePath = url.pathname.slice(SQS_MOUNT.length).split('/').filter(Boolean).length === 2
  return decodeQuery(params, queuePath ? `${url.origin}${url.pathname}` : undefined)
}

async function serve(request: Request, env: Env, protocol: Protocol, requestId: string): Promise<Response> {
  const url = new URL(request.url)
  const body = await readBody(request, protocol)
  const verified = await authenticate(request, env, body)
  const { action, input } = protocol === 'json' ? jsonInput(request, body) : queryInput(request, url, body)
  const handler = actionNamed(action)
  if (!handler) throw new SqsError('InvalidAction', `The action ${action} is not valid for this web service.`)
  const output = await handler(sqsContext(env, verified.principal, verified.scope.region, url.origin), input)
  if (protocol === 'query')
    return new Response(encodeQueryResponse(action, output, requestId), {
      headers: { 'content-type': 'text/xml' },
    })
  return new Response(JSON.stringify(output), { headers: { 'content-type': JSON_TYPE } })
}

/** Serves the request when it is an SQS request; undefined for everything else. */
export function serveSqs(request: Request, env: Env): Promise<Response> | undefined {
  const url = new URL(request.url)
  if (!isSqsRequest(url)) return undefined
  const requestId = crypto.randomUUID()
  const protocol = protocolOf(request, url)
  return serve(request, env, protocol, requestId).then(
    (response) => {
      response.headers.set('x-amzn-requestid', requestId)
      return response
    },
    (error: unknown) => {
      const sqs = toSqsError(error)
      return protocol === 'query' ? sqs.toXmlResponse(requestId) : sqs.toResponse(requestId)
    },
  )
}

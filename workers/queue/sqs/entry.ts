/**
 * Where SQS requests enter the Worker, before the platform's `/v1` app: `POST /sqs` (and
 * any path under it, since the AWS SDKs send to the queue URL) with the AWS JSON 1.0
 * protocol (`X-Amz-Target: AmazonSQS.<Action>`). SigV4 with the platform's access keys
 * (service `sqs`), SQS's own error shape; the key's tenant owns every queue named.
 */
import type { Env } from '../../platform/env'
import { type KeyPrincipal, lookupAccessKey } from '../../platform/sigv4/keys'
import { sha256HexOf } from '../../platform/sigv4/signing'
import { SigV4Error, type Verified, verifyRequest } from '../../platform/sigv4/verify'
import { sqsContext } from './context'
import { SqsError, type SqsErrorCode, toSqsError } from './errors'
import { MESSAGE_ACTIONS } from './messages'
import { SQS_MOUNT } from './queue-attributes'
import { QUEUE_ACTIONS } from './queues'
import { receiveMessage } from './receive'

const ACTIONS: Record<
  string,
  (c: ReturnType<typeof sqsContext>, input: Record<string, unknown>) => Promise<unknown>
> = {
  ...QUEUE_ACTIONS,
  ...MESSAGE_ACTIONS,
  ReceiveMessage: receiveMessage,
}
const JSON_TYPE = 'application/x-amz-json-1.0'
/** SQS's largest request: a 1 MiB batch plus its JSON framing. */
const MAX_REQUEST_BYTES = 2 * 1024 * 1024

const SIGV4_CODES: Record<string, SqsErrorCode> = {
  MissingSecurityHeader: 'MissingAuthenticationToken',
  InvalidAccessKeyId: 'InvalidClientTokenId',
  RequestTimeTooSkewed: 'SignatureDoesNotMatch',
  ExpiredToken: 'RequestExpired',
}

export function isSqsRequest(url: URL): boolean {
  return url.pathname === SQS_MOUNT || url.pathname.startsWith(`${SQS_MOUNT}/`)
}

async function serve(request: Request, env: Env): Promise<Response> {
  if (request.method !== 'POST') throw new SqsError('UnsupportedOperation', 'SQS requests are POST requests.')
  const length = Number(request.headers.get('content-length') ?? '0')
  if (length > MAX_REQUEST_BYTES) throw new SqsError('BatchRequestTooLong', 'The request is too long.')
  const body = new Uint8Array(await request.clone().arrayBuffer())
  if (body.length > MAX_REQUEST_BYTES) throw new SqsError('BatchRequestTooLong', 'The request is too long.')
  const now = Date.now()
  let verified: Verified<KeyPrincipal>
  try {
    verified = await verifyRequest(request, {
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
  const target = request.headers.get('x-amz-target') ?? ''
  const action = target.startsWith('AmazonSQS.') ? ACTIONS[target.slice('AmazonSQS.'.length)] : undefined
  if (!action)
    throw new SqsError(
      'UnknownOperation',
      'The action or operation requested is invalid. Verify that the action is typed correctly.',
    )
  const contentType = (request.headers.get('content-type') ?? '').split(';')[0]?.trim()
  if (contentType !== JSON_TYPE) throw new SqsError('MalformedInput', `Content type must be ${JSON_TYPE}.`)
  let input: unknown
  try {
    input = JSON.parse(new TextDecoder().decode(body) || '{}')
  } catch {
    throw new SqsError('MalformedInput', 'The request body is not valid JSON.')
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input))
    throw new SqsError('MalformedInput', 'The request body must be a JSON object.')
  const origin = new URL(request.url).origin
  const output = await action(
    sqsContext(env, verified.principal, verified.scope.region, origin),
    input as Record<string, unknown>,
  )
  return new Response(JSON.stringify(output), { headers: { 'content-type': JSON_TYPE } })
}

/** Serves the request when it is an SQS request; undefined for everything else. */
export function serveSqs(request: Request, env: Env): Promise<Response> | undefined {
  if (!isSqsRequest(new URL(request.url))) return undefined
  const requestId = crypto.randomUUID()
  return serve(request, env).then(
    (response) => {
      response.headers.set('x-amzn-requestid', requestId)
      return response
    },
    (error: unknown) => toSqsError(error).toResponse(requestId),
  )
}

/**
 * Verifies an AWS Signature Version 4 request: the `Authorization: AWS4-HMAC-SHA256 …`
 * header form and presigned query URLs (`X-Amz-Signature`, expiry at most 7 days).
 *
 * Guarantees: a request passes only if its signature matches the one rebuilt from the
 * bytes received with the key's secret; the signing time is within `skewMs` of `now`
 * (header form) or the URL has not expired (presigned); failures are typed with the code
 * S3 and SQS answer (SignatureDoesNotMatch, InvalidAccessKeyId, RequestTimeTooSkewed…).
 * The payload is verified later by the caller: `payload` says how (a hex SHA-256 to match,
 * unsigned, or aws-chunked with chunk signatures and/or trailers, see chunked.ts).
 * Costs: one key lookup, five HMACs and two SHA-256 of small strings.
 */
import {
  ALGORITHM,
  type CredentialScope,
  canonicalRequest,
  parseAmzDate,
  sameSignature,
  signatureOf,
  signingKey,
  stringToSign,
  UNSIGNED_PAYLOAD,
} from './signing'

export type SigV4ErrorCode =
  | 'MissingSecurityHeader'
  | 'AuthorizationHeaderMalformed'
  | 'AuthorizationQueryParametersError'
  | 'InvalidAccessKeyId'
  | 'SignatureDoesNotMatch'
  | 'RequestTimeTooSkewed'
  | 'ExpiredToken'
  | 'XAmzContentSHA256Mismatch'
  | 'IncompleteBody'
  | 'InvalidChunk'

export class SigV4Error extends Error {
  constructor(
    readonly code: SigV4ErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'SigV4Error'
  }
}

/** How the body is bound to the signature. */
export type PayloadMode =
  | { kind: 'hashed'; sha256: string }
  | { kind: 'unsigned' }
  | { kind: 'streaming'; signed: boolean; trailer: boolean }

export interface Verified<P> {
  principal: P
  accessKeyId: string
  scope: CredentialScope
  amzDate: string
  /** The request's signature: the seed of a signed aws-chunked body. */
  signature: string
  key: Uint8Array
  payload: PayloadMode
  presigned: boolean
}

export type KeyLookup<P> = (accessKeyId: string) => Promise<{ secret: string; principal: P } | undefined>

export interface VerifyOptions<P> {
  lookup: KeyLookup<P>
  now: number
  /** Largest accepted distance between the signing time and `now` (AWS: 15 minutes). */
  skewMs?: number
  /** The SHA-256 of the body, for services whose clients send no `x-amz-content-sha256` (SQS). */
  bodySha256?: () => Promise<string>
}

const MAX_PRESIGNED_SECONDS = 7 * 24 * 3600

interface Parsed {
  accessKeyId: string
  scope: CredentialScope
  signedHeaders: string[]
  signature: string
  amzDate: string
  presigned: boolean
  expiresSeconds?: number
}

function parseCredential(
  text: string,
  code: SigV4ErrorCode,
): Omit<Parsed, 'signedHeaders' | 'signature' | 'amzDate' | 'presigned'> {
  const parts = text.split('/')
  if (parts.length !== 5 || parts[4] !== 'aws4_request' || !/^\d{8}$/.test(parts[1] ?? '')) {
    throw new SigV4Error(
      code,
      `The credential "${text}" is not <key>/<date>/<region>/<service>/aws4_request.`,
    )
  }
  const [accessKeyId, date, region, service] = parts as [string, string, string, string]
  return { accessKeyId, scope: { date, region, service } }
}

function parseHeaderForm(authorization: string, headers: Headers): Parsed {
  const code = 'AuthorizationHeaderMalformed'
  if (!authorization.startsWith(`${ALGORITHM} `)) {
    throw new SigV4Error(code, `Only ${ALGORITHM} signatures are supported.`)
  }
  const fields = new Map<string, string>()
  for (const part of authorization.slice(ALGORITHM.length + 1).split(',')) {
    const at = part.indexOf('=')
    if (at > 0) fields.set(part.slice(0, at).trim(), part.slice(at + 1).trim())
  }
  const credential = fields.get('Credential')
  const signed = fields.get('SignedHeaders')
  const signature = fields.get('Signature')
  if (!credential || !signed || !signature) {
    throw new SigV4Error(code, 'The Authorization header needs Credential, SignedHeaders and Signature.')
  }
  const amzDate = headers.get('x-amz-date') ?? ''
  if (!amzDate) throw new SigV4Error('MissingSecurityHeader', 'The request has no x-amz-date header.')
  return {
    ...parseCredential(credential, code),
    signedHeaders: signed.split(';'),
    signature,
    amzDate,
    presigned: false,
  }
}

function parseQueryForm(query: URLSearchParams): Parsed {
  const code = 'AuthorizationQueryParametersError'
  if (query.get('X-Amz-Algorithm') !== ALGORITHM) {
    throw new SigV4Error(code, `X-Amz-Algorithm must be ${ALGORITHM}.`)
  }
  const credential = query.get('X-Amz-Credential')
  const signed = query.get('X-Amz-SignedHeaders')
  const signature = query.get('X-Amz-Signature')
  const amzDate = query.get('X-Amz-Date')
  const expires = query.get('X-Amz-Expires')
  if (!credential || !signed || !signature || !amzDate || !expires) {
    throw new SigV4Error(
      code,
      'A presigned URL needs X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders and X-Amz-Signature.',
    )
  }
  const expiresSeconds = /^\d{1,7}$/.test(expires) ? Number(expires) : -1
  if (expiresSeconds < 1 || expiresSeconds > MAX_PRESIGNED_SECONDS) {
    throw new SigV4Error(code, 'X-Amz-Expires must be between 1 and 604800 seconds.')
  }
  return {
    ...parseCredential(credential, code),
    signedHeaders: signed.split(';'),
    signature,
    amzDate,
    presigned: true,
    expiresSeconds,
  }
}

export function payloadModeOf(declared: string | null): PayloadMode | undefined {
  if (declared === null || declared === UNSIGNED_PAYLOAD)
    return declared === null ? undefined : { kind: 'unsigned' }
  if (/^[0-9a-f]{64}$/.test(declared)) return { kind: 'hashed', sha256: declared }
  switch (declared) {
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD':
      return { kind: 'streaming', signed: true, trailer: false }
    case 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER':
      return { kind: 'streaming', signed: true, trailer: true }
    case 'STREAMING-UNSIGNED-PAYLOAD-TRAILER':
      return { kind: 'streaming', signed: false, trailer: true }
    default:
      throw new SigV4Error(
        'XAmzContentSHA256Mismatch',
        `x-amz-content-sha256 "${declared}" is not a known payload mode.`,
      )
  }
}

/** Whether the request carries a SigV4 signature at all (header or query form). */
export function isSigned(request: Request, url = new URL(request.url)): boolean {
  return (
    (request.headers.get('authorization') ?? '').startsWith('AWS4') || url.searchParams.has('X-Amz-Signature')
  )
}

export async function verifyRequest<P>(request: Request, options: VerifyOptions<P>): Promise<Verified<P>> {
  const url = new URL(request.url)
  const authorization = request.headers.get('authorization')
  let parsed: Parsed
  if (authorization) parsed = parseHeaderForm(authorization, request.headers)
  else if (url.searchParams.has('X-Amz-Signature') || url.searchParams.has('X-Amz-Algorithm'))
    parsed = parseQueryForm(url.searchParams)
  else throw new SigV4Error('MissingSecurityHeader', 'The request is not signed.')

  const signedAt = parseAmzDate(parsed.amzDate)
  if (Number.isNaN(signedAt))
    throw new SigV4Error('AuthorizationHeaderMalformed', 'x-amz-date is not YYYYMMDDTHHMMSSZ.')
  if (parsed.amzDate.slice(0, 8) !== parsed.scope.date) {
    throw new SigV4Error('SignatureDoesNotMatch', 'The credential date does not match x-amz-date.')
  }
  const skewMs = options.skewMs ?? 15 * 60_000
  if (parsed.presigned) {
    if (options.now > signedAt + (parsed.expiresSeconds ?? 0) * 1000) {
      throw new SigV4Error('ExpiredToken', 'Request has expired')
    }
    if (signedAt - options.now > skewMs)
      throw new SigV4Error('RequestTimeTooSkewed', 'Request is not valid yet')
  } else if (Math.abs(options.now - signedAt) > skewMs) {
    throw new SigV4Error(
      'RequestTimeTooSkewed',
      'The difference between the request time and the current time is too large.',
    )
  }
  for (const name of ['host']) {
    if (!parsed.signedHeaders.includes(name)) {
      throw new SigV4Error('SignatureDoesNotMatch', 'The host header must be signed.')
    }
  }

  const found = await options.lookup(parsed.accessKeyId)
  if (!found) {
    throw new SigV4Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    )
  }
  const declared = parsed.presigned
    ? (url.searchParams.get('X-Amz-Content-Sha256') ??
      request.headers.get('x-amz-content-sha256') ??
      UNSIGNED_PAYLOAD)
    : request.headers.get('x-amz-content-sha256')
  let payload = payloadModeOf(declared)
  if (!payload) {
    if (!options.bodySha256) {
      throw new SigV4Error(
        'MissingSecurityHeader',
        'Missing required header for this request: x-amz-content-sha256',
      )
    }
    payload = { kind: 'hashed', sha256: await options.bodySha256() }
  }
  const payloadHash = declared ?? (payload.kind === 'hashed' ? payload.sha256 : UNSIGNED_PAYLOAD)
  // A request handed over in-process may lack the Host header its URL implies.
  let headers = request.headers
  if (!headers.has('host')) {
    headers = new Headers(headers)
    headers.set('host', url.host)
  }
  const canonical = canonicalRequest({
    method: request.method,
    rawPath: url.pathname,
    rawQuery: url.search,
    headers,
    signedHeaders: parsed.signedHeaders,
    payloadHash,
    service: parsed.scope.service,
  })
  const key = await signingKey(found.secret, parsed.scope)
  const expected = await signatureOf(key, await stringToSign(parsed.amzDate, parsed.scope, canonical))
  if (!sameSignature(expected, parsed.signature)) {
    throw new SigV4Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    )
  }
  return {
    principal: found.principal,
    accessKeyId: parsed.accessKeyId,
    scope: parsed.scope,
    amzDate: parsed.amzDate,
    signature: parsed.signature,
    key,
    payload,
    presigned: parsed.presigned,
  }
}

/**
 * S3's own errors: the code every S3 client switches on, its HTTP status, and the XML body
 * `<Error><Code/><Message/><Resource/><RequestId/></Error>` (no body for HEAD).
 * `S3_STATUS` is exhaustive over `S3ErrorCode`, so a new code needs a status to compile.
 */
import { el, xmlDocument } from './xml'

export type S3ErrorCode =
  | 'AccessDenied'
  | 'AuthorizationHeaderMalformed'
  | 'AuthorizationQueryParametersError'
  | 'BadDigest'
  | 'BucketAlreadyExists'
  | 'BucketAlreadyOwnedByYou'
  | 'BucketNotEmpty'
  | 'EntityTooLarge'
  | 'EntityTooSmall'
  | 'ExpiredToken'
  | 'IncompleteBody'
  | 'InternalError'
  | 'InvalidAccessKeyId'
  | 'InvalidArgument'
  | 'InvalidBucketName'
  | 'InvalidDigest'
  | 'InvalidPart'
  | 'InvalidPartNumber'
  | 'InvalidPartOrder'
  | 'InvalidRange'
  | 'InvalidRequest'
  | 'KeyTooLongError'
  | 'MalformedXML'
  | 'MalformedPOSTRequest'
  | 'MethodNotAllowed'
  | 'MissingContentLength'
  | 'MissingSecurityHeader'
  | 'NoSuchBucket'
  | 'NoSuchCORSConfiguration'
  | 'NoSuchKey'
  | 'NoSuchLifecycleConfiguration'
  | 'NoSuchUpload'
  | 'NoSuchVersion'
  | 'NotImplemented'
  | 'NotModified'
  | 'PreconditionFailed'
  | 'RequestTimeTooSkewed'
  | 'ServiceUnavailable'
  | 'SignatureDoesNotMatch'
  | 'XAmzContentSHA256Mismatch'

export const S3_STATUS: Record<S3ErrorCode, number> = {
  AccessDenied: 403,
  AuthorizationHeaderMalformed: 400,
  AuthorizationQueryParametersError: 400,
  BadDigest: 400,
  BucketAlreadyExists: 409,
  BucketAlreadyOwnedByYou: 409,
  BucketNotEmpty: 409,
  EntityTooLarge: 400,
  EntityTooSmall: 400,
  ExpiredToken: 400,
  IncompleteBody: 400,
  InternalError: 500,
  InvalidAccessKeyId: 403,
  InvalidArgument: 400,
  InvalidBucketName: 400,
  InvalidDigest: 400,
  InvalidPart: 400,
  InvalidPartNumber: 416,
  InvalidPartOrder: 400,
  InvalidRange: 416,
  InvalidRequest: 400,
  KeyTooLongError: 400,
  MalformedXML: 400,
  MalformedPOSTRequest: 400,
  MethodNotAllowed: 405,
  MissingContentLength: 411,
  MissingSecurityHeader: 400,
  NoSuchBucket: 404,
  NoSuchCORSConfiguration: 404,
  NoSuchKey: 404,
  NoSuchLifecycleConfiguration: 404,
  NoSuchUpload: 404,
  NoSuchVersion: 404,
  NotImplemented: 501,
  NotModified: 304,
  PreconditionFailed: 412,
  RequestTimeTooSkewed: 403,
  ServiceUnavailable: 503,
  SignatureDoesNotMatch: 403,
  XAmzContentSHA256Mismatch: 400,
}

const MARKER = 's3-error:'

/** An S3 error; crosses Durable Object RPC in its message, like AppError. */
export class S3Error extends Error {
  readonly status: number
  constructor(
    readonly code: S3ErrorCode,
    readonly detail: string,
    readonly extra: Record<string, string> = {},
    readonly headers: Record<string, string> = {},
  ) {
    super(MARKER + JSON.stringify({ code, detail, extra, headers }))
    this.name = 'S3Error'
    this.status = S3_STATUS[code]
  }
}

/** The S3Error inside anything thrown (also across RPC), or undefined. */
export function asS3Error(error: unknown): S3Error | undefined {
  if (error instanceof S3Error) return error
  if (!(error instanceof Error)) return undefined
  const at = error.message.indexOf(MARKER)
  if (at < 0) return undefined
  try {
    const { code, detail, extra, headers } = JSON.parse(error.message.slice(at + MARKER.length))
    return code in S3_STATUS ? new S3Error(code, detail, extra, headers) : undefined
  } catch {
    return undefined
  }
}

export function s3ErrorResponse(
  error: S3Error,
  resource: string,
  requestId: string,
  method: string,
): Response {
  const headers: Record<string, string> = { ...error.headers, 'x-amz-request-id': requestId }
  if (method === 'HEAD' || error.status === 304) return new Response(null, { status: error.status, headers })
  const body = xmlDocument(
    el(
      'Error',
      el('Code', error.code),
      el('Message', error.detail),
      Object.entries(error.extra).map(([name, value]) => el(name, value)),
      el('Resource', resource),
      el('RequestId', requestId),
    ),
    null,
  )
  return new Response(body, {
    status: error.status,
    headers: { ...headers, 'content-type': 'application/xml' },
  })
}

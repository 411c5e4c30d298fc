/**
 * SQS's error shapes: for the JSON protocol status 400 (sender) or 403/500, a body
 * `{"__type": "com.amazonaws.sqs#<Code>", "message": …}` and the `x-amzn-query-error`
 * header (`<QueryCode>;Sender`) that the AWS SDKs read to name the error; for the query
 * protocol the same status with an `<ErrorResponse>` naming the query code
 * (`AWS.SimpleQueueService.NonExistentQueue`…). Plus the mapping of the queue block's
 * AppErrors onto SQS codes.
 */
import { type AppError, asAppError } from '../../platform/errors'
import { encodeQueryError } from './xml'

export type SqsErrorCode =
  | 'QueueDoesNotExist'
  | 'QueueNameExists'
  | 'InvalidParameterValue'
  | 'MissingParameter'
  | 'InvalidAttributeName'
  | 'InvalidAttributeValue'
  | 'InvalidMessageContents'
  | 'ReceiptHandleIsInvalid'
  | 'MessageNotInflight'
  | 'BatchEntryIdsNotDistinct'
  | 'EmptyBatchRequest'
  | 'TooManyEntriesInBatchRequest'
  | 'InvalidBatchEntryId'
  | 'BatchRequestTooLong'
  | 'ResourceNotFoundException'
  | 'UnsupportedOperation'
  | 'InvalidAddress'
  | 'UnknownOperation'
  | 'MalformedInput'
  | 'AccessDenied'
  | 'InvalidClientTokenId'
  | 'SignatureDoesNotMatch'
  | 'MissingAuthenticationToken'
  | 'RequestExpired'
  | 'InternalFailure'
  | 'MissingAction'
  | 'InvalidAction'
  | 'MalformedQueryString'
  | 'InvalidQueryParameter'

/** The `__type` namespace and query-protocol code when they differ from the SQS code. */
const WIRE: Partial<Record<SqsErrorCode, { type?: string; query?: string; status?: number }>> = {
  QueueDoesNotExist: { query: 'AWS.SimpleQueueService.NonExistentQueue' },
  QueueNameExists: { query: 'QueueAlreadyExists' },
  BatchEntryIdsNotDistinct: { query: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct' },
  EmptyBatchRequest: { query: 'AWS.SimpleQueueService.EmptyBatchRequest' },
  TooManyEntriesInBatchRequest: { query: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest' },
  InvalidBatchEntryId: { query: 'AWS.SimpleQueueService.InvalidBatchEntryId' },
  BatchRequestTooLong: { query: 'AWS.SimpleQueueService.BatchRequestTooLong' },
  MessageNotInflight: { query: 'AWS.SimpleQueueService.MessageNotInflight' },
  UnsupportedOperation: { query: 'AWS.SimpleQueueService.UnsupportedOperation' },
  UnknownOperation: { type: 'com.amazon.coral.service#UnknownOperationException' },
  MalformedInput: { type: 'com.amazon.coral.service#SerializationException' },
  AccessDenied: { type: 'com.amazon.coral.service#AccessDeniedException', status: 403 },
  InvalidClientTokenId: { type: 'com.amazon.coral.service#UnrecognizedClientException', status: 403 },
  SignatureDoesNotMatch: { type: 'com.amazon.coral.service#InvalidSignatureException', status: 403 },
  MissingAuthenticationToken: {
    type: 'com.amazon.coral.service#MissingAuthenticationTokenException',
    status: 403,
  },
  RequestExpired: { type: 'com.amazon.coral.service#ExpiredTokenException', status: 403 },
  InternalFailure: { type: 'com.amazon.coral.service#InternalFailure', status: 500 },
}

export class SqsError extends Error {
  constructor(
    readonly code: SqsErrorCode,
    message: string,
  ) {
    super(message)
    this.name = 'SqsError'
  }

  get status(): number {
    return WIRE[this.code]?.status ?? 400
  }

  /** The code the query protocol (and the JSON protocol's x-amzn-query-error) names. */
  get queryCode(): string {
    return WIRE[this.code]?.query ?? this.code
  }

  /** The query protocol response. */
  toXmlResponse(requestId: string): Response {
    const fault = this.status >= 500 ? 'Receiver' : 'Sender'
    return new Response(encodeQueryError(fault, this.queryCode, this.message, requestId), {
      status: this.status,
      headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    })
  }

  /** The JSON protocol response. */
  toResponse(requestId: string): Response {
    const wire = WIRE[this.code]
    const fault = this.status >= 500 ? 'Receiver' : 'Sender'
    return new Response(
      JSON.stringify({ __type: wire?.type ?? `com.amazonaws.sqs#${this.code}`, message: this.message }),
      {
        status: this.status,
        headers: {
          'content-type': 'application/x-amz-json-1.0',
          'x-amzn-query-error': `${this.queryCode};${fault}`,
          'x-amzn-requestid': requestId,
        },
      },
    )
  }
}

/** An SQS error for anything thrown while serving: AppErrors keep their meaning. */
export function toSqsError(error: unknown): SqsError {
  if (error instanceof SqsError) return error
  const app: AppError = asAppError(error)
  switch (app.code) {
    case 'not_found':
      return new SqsError('QueueDoesNotExist', 'The specified queue does not exist.')
    case 'validation_failed':
    case 'bad_request':
    case 'unprocessable':
    case 'payload_too_large':
      return new SqsError('InvalidParameterValue', app.detail)
    case 'conflict':
      return new SqsError('InvalidParameterValue', app.detail)
    case 'forbidden':
    case 'unauthorized':
      return new SqsError('AccessDenied', 'Access to the resource is denied.')
    default:
      return new SqsError('InternalFailure', 'The request processing has failed because of an unknown error.')
  }
}

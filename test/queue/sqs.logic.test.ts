/** The SQS translation: typed message attributes over string attributes, queue attributes ↔ settings. */
import { describe, expect, it } from 'vitest'
import { AppError } from '../../workers/platform/errors'
import {
  fromNativeAttributes,
  md5OfAttributes,
  selectAttributes,
  TYPES_ATTRIBUTE,
  toNativeAttributes,
} from '../../workers/queue/sqs/attributes'
import { SqsError, toSqsError } from '../../workers/queue/sqs/errors'
import {
  createInput,
  fromQueueAttributes,
  NO_EXTRAS,
  queueFromUrl,
  toQueueAttributes,
} from '../../workers/queue/sqs/queue-attributes'

const code = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    return (error as SqsError).code
  }
  return undefined
}

describe('message attributes', () => {
  it('round-trips every data type and keeps the digest', () => {
    const typed = {
      s: { DataType: 'String', StringValue: 'plain' },
      n: { DataType: 'Number', StringValue: '-1.5e3' },
      b: { DataType: 'Binary', BinaryValue: 'AAEC/w==' },
      c: { DataType: 'Number.int', StringValue: '7' },
    }
    const native = toNativeAttributes(typed) as Record<string, string>
    expect(native).toMatchObject({ s: 'plain', n: '-1.5e3', b: 'AAEC/w==', c: '7' })
    expect(JSON.parse(native[TYPES_ATTRIBUTE] as string)).toEqual({
      n: 'Number',
      b: 'Binary',
      c: 'Number.int',
    })
    const back = fromNativeAttributes(native)
    expect(back).toEqual(typed)
    expect(md5OfAttributes(back)).toBe(md5OfAttributes(typed))
  })

  it('reads plain native attributes as strings and has no types attribute for them', () => {
    expect(toNativeAttributes({ a: { DataType: 'String', StringValue: 'x' } })).toEqual({ a: 'x' })
    expect(fromNativeAttributes({ a: 'x' })).toEqual({ a: { DataType: 'String', StringValue: 'x' } })
    expect(toNativeAttributes({})).toBeUndefined()
  })

  it('refuses what SQS refuses', () => {
    const many = Object.fromEntries(
      Array.from({ length: 11 }, (_, i) => [`a${i}`, { DataType: 'String', StringValue: 'x' }]),
    )
    expect(code(() => toNativeAttributes(many))).toBe('InvalidParameterValue')
    expect(code(() => toNativeAttributes({ 'AWS.x': { DataType: 'String', StringValue: 'x' } }))).toBe(
      'InvalidParameterValue',
    )
    expect(code(() => toNativeAttributes({ a: { DataType: 'Float', StringValue: '1' } }))).toBe(
      'InvalidParameterValue',
    )
    expect(code(() => toNativeAttributes({ a: { DataType: 'String', StringValue: '' } }))).toBe(
      'InvalidParameterValue',
    )
    expect(code(() => toNativeAttributes({ a: { DataType: 'Binary', BinaryValue: '%%' } }))).toBe(
      'InvalidParameterValue',
    )
  })

  it('selects by All, exact name and prefix', () => {
    const all = { 'a.x': 1, 'a.y': 2, b: 3 }
    expect(selectAttributes(all, ['All'])).toEqual(all)
    expect(selectAttributes(all, ['a.*'])).toEqual({ 'a.x': 1, 'a.y': 2 })
    expect(selectAttributes(all, ['b'])).toEqual({ b: 3 })
    expect(selectAttributes(all, undefined)).toEqual({})
  })
})

describe('queue attributes', () => {
  it('maps SQS attributes onto settings and back', () => {
    const { patch, receiveWaitSeconds } = fromQueueAttributes(
      {
        FifoQueue: 'true',
        ContentBasedDeduplication: 'true',
        VisibilityTimeout: '60',
        MessageRetentionPeriod: '3600',
        DelaySeconds: '5',
        ReceiveMessageWaitTimeSeconds: '20',
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: 'arn:aws:sqs:auto:t1:dead.fifo',
          maxReceiveCount: '3',
        }),
      },
      't1',
    )
    expect(receiveWaitSeconds).toBe(20)
    const settings = createInput('jobs.fifo', patch)
    expect(settings).toMatchObject({
      fifo: true,
      contentBasedDeduplication: true,
      visibilityTimeoutSeconds: 60,
      retentionSeconds: 3600,
      delaySeconds: 5,
      deadLetter: { queue: 'dead.fifo', maxReceiveCount: 3 },
    })
    const stats = { visible: 4, inFlight: 2, delayed: 1 } as never
    const attributes = toQueueAttributes(settings, {
      arn: 'arn:aws:sqs:auto:t1:jobs.fifo',
      region: 'auto',
      tenant: 't1',
      createdAt: 1_700_000_000_000,
      updatedAt: 1_700_000_001_000,
      stats,
      extras: { ...NO_EXTRAS, receiveWaitSeconds: 20 },
    })
    expect(attributes).toMatchObject({
      FifoQueue: 'true',
      ApproximateNumberOfMessages: '4',
      ApproximateNumberOfMessagesNotVisible: '2',
      ApproximateNumberOfMessagesDelayed: '1',
      CreatedTimestamp: '1700000000',
      ReceiveMessageWaitTimeSeconds: '20',
    })
    expect(JSON.parse(attributes.RedrivePolicy as string)).toEqual({
      deadLetterTargetArn: 'arn:aws:sqs:auto:t1:dead.fifo',
      maxReceiveCount: 3,
    })
  })

  it("refuses bad values, another tenant's dead-letter queue and FIFO names that do not match", () => {
    expect(code(() => fromQueueAttributes({ VisibilityTimeout: '43201' }, 't'))).toBe('InvalidAttributeValue')
    expect(code(() => fromQueueAttributes({ FifoQueue: 'yes' }, 't'))).toBe('InvalidAttributeValue')
    expect(code(() => fromQueueAttributes({ Unknown: '1' }, 't'))).toBe('InvalidAttributeName')
    const foreign = JSON.stringify({ deadLetterTargetArn: 'arn:aws:sqs:auto:other:dlq', maxReceiveCount: 1 })
    expect(code(() => fromQueueAttributes({ RedrivePolicy: foreign }, 't'))).toBe('InvalidParameterValue')
    expect(code(() => createInput('plain', { fifo: true }))).toBe('InvalidParameterValue')
    expect(code(() => createInput('x.fifo', {}))).toBe('InvalidParameterValue')
  })

  it('reads queue URLs of the tenant only', () => {
    expect(queueFromUrl('http://h/sqs/t1/jobs', 't1')).toBe('jobs')
    expect(code(() => queueFromUrl('http://h/sqs/t2/jobs', 't1'))).toBe('QueueDoesNotExist')
    expect(code(() => queueFromUrl(undefined, 't1'))).toBe('MissingParameter')
    expect(code(() => queueFromUrl('not a url', 't1'))).toBe('InvalidAddress')
  })
})

describe('errors', () => {
  it('maps AppErrors onto SQS codes', () => {
    expect(toSqsError(new AppError('not_found', 'x')).code).toBe('QueueDoesNotExist')
    expect(toSqsError(new AppError('validation_failed', 'x')).code).toBe('InvalidParameterValue')
    expect(toSqsError(new Error('boom')).code).toBe('InternalFailure')
    expect(new SqsError('InternalFailure', 'x').status).toBe(500)
  })
})

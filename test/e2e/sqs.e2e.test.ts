/**
 * The SQS API driven by `@aws-sdk/client-sqs` exactly as users configure it against an
 * SQS-compatible endpoint (region `auto`, endpoint = platform + `/sqs`, static credentials
 * from the access key API), with the SDK's own MD5 validation on.
 */
import { randomBytes } from 'node:crypto'
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  CreateQueueCommand,
  DeleteMessageBatchCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListDeadLetterSourceQueuesCommand,
  ListQueuesCommand,
  ListQueueTagsCommand,
  PurgeQueueCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
  SQSServiceException,
  StartMessageMoveTaskCommand,
  TagQueueCommand,
  UntagQueueCommand,
} from '@aws-sdk/client-sqs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

let platform: RunningPlatform
let token: string
let sqs: SQSClient

async function createKey(bearer: string, body: Record<string, unknown> = {}) {
  const response = await fetch(`${platform.url}/v1/blob/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  expect(response.status).toBe(201)
  return (await response.json()) as { accessKeyId: string; secretAccessKey: string }
}

function client(credentials: { accessKeyId: string; secretAccessKey: string }) {
  return new SQSClient({ region: 'auto', endpoint: `${platform.url}/sqs`, credentials })
}

async function failure(promise: Promise<unknown>): Promise<{ name: string; status: number | undefined }> {
  try {
    await promise
  } catch (error) {
    if (error instanceof SQSServiceException)
      return { name: error.name, status: error.$metadata.httpStatusCode }
    throw error
  }
  throw new Error('expected the call to fail')
}

const queueName = (label: string) => `${label}-${randomBytes(5).toString('hex')}`

async function native(path: string, body?: unknown) {
  const response = await fetch(`${platform.url}/v1/queues${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body ?? {}),
  })
  return { status: response.status, json: (await response.json()) as Record<string, unknown> }
}

beforeAll(async () => {
  platform = await startPlatform()
  token = await platform.token('sqs-e2e', ['blob:write', 'queue:read', 'queue:write'])
  sqs = client(await createKey(token))
})

afterAll(async () => {
  sqs?.destroy()
  await platform?.stop()
})

describe('queues', () => {
  it('creates, finds, lists, configures, tags, purges and deletes a queue', async () => {
    const name = queueName('q')
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { VisibilityTimeout: '45', DelaySeconds: '0', ReceiveMessageWaitTimeSeconds: '1' },
        tags: { team: 'a' },
      }),
    )
    expect(QueueUrl).toBe(`${platform.url}/sqs/sqs-e2e/${name}`)
    expect((await sqs.send(new CreateQueueCommand({ QueueName: name }))).QueueUrl).toBe(QueueUrl)
    expect(
      await failure(
        sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: { VisibilityTimeout: '10' } })),
      ),
    ).toEqual({ name: 'QueueNameExists', status: 400 })
    expect((await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl).toBe(QueueUrl)
    const listed = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: name }))
    expect(listed.QueueUrls).toEqual([QueueUrl])
    await sqs.send(
      new SetQueueAttributesCommand({ QueueUrl, Attributes: { MessageRetentionPeriod: '3600' } }),
    )
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }),
    )
    expect(Attributes).toMatchObject({
      VisibilityTimeout: '45',
      MessageRetentionPeriod: '3600',
      ReceiveMessageWaitTimeSeconds: '1',
      ApproximateNumberOfMessages: '0',
      QueueArn: `arn:aws:sqs:auto:sqs-e2e:${name}`,
    })
    await sqs.send(new TagQueueCommand({ QueueUrl, Tags: { env: 'test' } }))
    await sqs.send(new UntagQueueCommand({ QueueUrl, TagKeys: ['team'] }))
    expect((await sqs.send(new ListQueueTagsCommand({ QueueUrl }))).Tags).toEqual({ env: 'test' })
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' }))
    const counted = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
    )
    expect(counted.Attributes).toEqual({ ApproximateNumberOfMessages: '1' })
    await sqs.send(new PurgeQueueCommand({ QueueUrl }))
    expect(
      (await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 0 }))).Messages ?? [],
    ).toEqual([])
    await sqs.send(new DeleteQueueCommand({ QueueUrl }))
    expect(await failure(sqs.send(new GetQueueUrlCommand({ QueueName: name })))).toEqual({
      name: 'QueueDoesNotExist',
      status: 400,
    })
  })

  it('pages through ListQueues', async () => {
    const prefix = queueName('page')
    for (const i of [1, 2, 3]) await sqs.send(new CreateQueueCommand({ QueueName: `${prefix}-${i}` }))
    const first = await sqs.send(new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2 }))
    expect(first.QueueUrls).toHaveLength(2)
    expect(first.NextToken).toBeDefined()
    const second = await sqs.send(
      new ListQueuesCommand({ QueueNamePrefix: prefix, MaxResults: 2, NextToken: first.NextToken }),
    )
    expect(second.QueueUrls?.map((url) => url.split('/').at(-1))).toEqual([`${prefix}-3`])
  })
})

describe('messages', () => {
  it('sends typed attributes and receives them with the SDK validating the MD5s', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName('m') }))
    const sent = await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'héllo ✓',
        MessageAttributes: {
          text: { DataType: 'String', StringValue: 'value' },
          count: { DataType: 'Number', StringValue: '42' },
          blob: { DataType: 'Binary', BinaryValue: Uint8Array.of(0, 1, 2, 255) },
          custom: { DataType: 'String.custom', StringValue: 'c' },
        },
      }),
    )
    expect(sent.MD5OfMessageAttributes).toMatch(/^[0-9a-f]{32}$/)
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MessageAttributeNames: ['All'],
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'SentTimestamp'],
        VisibilityTimeout: 30,
      }),
    )
    const [message] = received.Messages ?? []
    expect(message?.Body).toBe('héllo ✓')
    expect(message?.MessageId).toBe(sent.MessageId)
    expect(message?.MD5OfMessageAttributes).toBe(sent.MD5OfMessageAttributes)
    expect(message?.MessageAttributes?.count).toEqual({ DataType: 'Number', StringValue: '42' })
    expect(message?.MessageAttributes?.blob?.BinaryValue).toEqual(Uint8Array.of(0, 1, 2, 255))
    expect(message?.Attributes?.ApproximateReceiveCount).toBe('1')
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: message?.ReceiptHandle,
        VisibilityTimeout: 60,
      }),
    )
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message?.ReceiptHandle }))
    expect(
      await failure(sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: 'not-a-handle' }))),
    ).toEqual({ name: 'ReceiptHandleIsInvalid', status: 400 })
  })

  it('reports batch partial failures and batch-level errors', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName('b') }))
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: 'a', MessageBody: 'one' },
          {
            Id: 'b',
            MessageBody: 'two',
            MessageAttributes: { n: { DataType: 'Number', StringValue: 'NaN' } },
          },
          { Id: 'c', MessageBody: 'three', DelaySeconds: 0 },
        ],
      }),
    )
    expect(sent.Successful?.map((entry) => entry.Id).sort()).toEqual(['a', 'c'])
    expect(sent.Failed).toEqual([
      expect.objectContaining({ Id: 'b', Code: 'InvalidParameterValue', SenderFault: true }),
    ])
    expect(
      await failure(
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl,
            Entries: [
              { Id: 'x', MessageBody: '1' },
              { Id: 'x', MessageBody: '2' },
            ],
          }),
        ),
      ),
    ).toEqual({ name: 'BatchEntryIdsNotDistinct', status: 400 })
    const eleven = Array.from({ length: 11 }, (_, i) => ({ Id: `e${i}`, MessageBody: 'x' }))
    expect(await failure(sqs.send(new SendMessageBatchCommand({ QueueUrl, Entries: eleven })))).toEqual({
      name: 'TooManyEntriesInBatchRequest',
      status: 400,
    })
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))
    expect(received.Messages).toHaveLength(2)
    const handles = (received.Messages ?? []).map((message, i) => ({
      Id: `h${i}`,
      ReceiptHandle: message.ReceiptHandle,
    }))
    const changed = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl,
        Entries: [
          ...handles.map((entry) => ({ ...entry, VisibilityTimeout: 0 })),
          { Id: 'bad', ReceiptHandle: 'junk', VisibilityTimeout: 0 },
        ],
      }),
    )
    expect(changed.Successful).toHaveLength(2)
    expect(changed.Failed).toEqual([expect.objectContaining({ Id: 'bad', Code: 'ReceiptHandleIsInvalid' })])
    const again = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10 }))
    const deleted = await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl,
        Entries: [
          ...(again.Messages ?? []).map((message, i) => ({
            Id: `d${i}`,
            ReceiptHandle: message.ReceiptHandle,
          })),
          { Id: 'junk', ReceiptHandle: 'junk' },
        ],
      }),
    )
    expect(deleted.Successful).toHaveLength(2)
    expect(deleted.Failed).toEqual([expect.objectContaining({ Id: 'junk', Code: 'ReceiptHandleIsInvalid' })])
    const left = await sqs.send(new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['All'] }))
    expect(left.Attributes).toMatchObject({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
    })
  })

  it('keeps FIFO order and deduplicates by content', async () => {
    const name = `${queueName('f')}.fifo`
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: name,
        Attributes: { FifoQueue: 'true', ContentBasedDeduplication: 'true' },
      }),
    )
    const first = await sqs.send(
      new SendMessageCommand({ QueueUrl, MessageBody: 'one', MessageGroupId: 'g' }),
    )
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'two', MessageGroupId: 'g' }))
    const duplicate = await sqs.send(
      new SendMessageCommand({ QueueUrl, MessageBody: 'one', MessageGroupId: 'g' }),
    )
    expect(duplicate.MessageId).toBe(first.MessageId)
    expect(first.SequenceNumber).toMatch(/^\d{20}$/)
    const received = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ['All'] }),
    )
    expect(received.Messages?.map((message) => message.Body)).toEqual(['one', 'two'])
    expect(received.Messages?.[0]?.Attributes?.MessageGroupId).toBe('g')
    expect(await failure(sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' })))).toMatchObject({
      status: 400,
    })
  })

  it('long-polls until a message arrives', async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName('lp') }))
    const waiting = sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }))
    await new Promise((resolve) => setTimeout(resolve, 300))
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'late' }))
    expect((await waiting).Messages?.map((message) => message.Body)).toEqual(['late'])
  })

  it('moves a message to the dead-letter queue and redrives it back', async () => {
    const dlqName = queueName('dlq')
    const { QueueUrl: dlqUrl } = await sqs.send(new CreateQueueCommand({ QueueName: dlqName }))
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: queueName('src'),
        Attributes: {
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: `arn:aws:sqs:auto:sqs-e2e:${dlqName}`,
            maxReceiveCount: 1,
          }),
        },
      }),
    )
    expect((await sqs.send(new ListDeadLetterSourceQueuesCommand({ QueueUrl: dlqUrl }))).queueUrls).toEqual([
      QueueUrl,
    ])
    await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'poison' }))
    const first = await sqs.send(new ReceiveMessageCommand({ QueueUrl }))
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl,
        ReceiptHandle: first.Messages?.[0]?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    )
    const dead = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: dlqUrl, WaitTimeSeconds: 10, VisibilityTimeout: 0 }),
    )
    expect(dead.Messages?.map((message) => message.Body)).toEqual(['poison'])
    await sqs.send(new StartMessageMoveTaskCommand({ SourceArn: `arn:aws:sqs:auto:sqs-e2e:${dlqName}` }))
    const back = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 10 }))
    expect(back.Messages?.map((message) => message.Body)).toEqual(['poison'])
  })

  it('crosses between the SQS wire and the native API both ways', async () => {
    const name = queueName('x')
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }))
    await sqs.send(
      new SendMessageCommand({
        QueueUrl,
        MessageBody: 'from sqs',
        MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
      }),
    )
    const nativeReceived = await native(`/${name}/messages/receive`, { maxMessages: 10 })
    expect(nativeReceived.status).toBe(200)
    const [message] = nativeReceived.json.messages as Array<{
      body: string
      attributes: Record<string, string>
      receiptHandle: string
    }>
    expect(message).toMatchObject({ body: 'from sqs', attributes: { k: 'v' } })
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message?.receiptHandle }))
    expect((await native(`/${name}/messages`, { body: 'from native', attributes: { a: 'b' } })).status).toBe(
      201,
    )
    const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MessageAttributeNames: ['All'] }))
    expect(received.Messages?.[0]).toMatchObject({
      Body: 'from native',
      MessageAttributes: { a: { DataType: 'String', StringValue: 'b' } },
    })
  })
})

describe('auth and errors', () => {
  it('refuses bad signatures, unknown keys, other tenants and unknown actions in SQS shape', async () => {
    const name = queueName('auth')
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: name }))
    const keys = await createKey(token)
    const wrong = client({ ...keys, secretAccessKey: `${keys.secretAccessKey.slice(0, -1)}x` })
    expect(await failure(wrong.send(new ListQueuesCommand({})))).toEqual({
      name: 'SignatureDoesNotMatch',
      status: 403,
    })
    const unknown = client({ accessKeyId: 'EBAAAAAAAAAAAAAAAAAA', secretAccessKey: 'x' })
    expect(await failure(unknown.send(new ListQueuesCommand({})))).toMatchObject({ status: 403 })
    const otherToken = await platform.token('sqs-e2e-other', ['blob:write'])
    const other = client(await createKey(otherToken))
    expect(await failure(other.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' })))).toEqual({
      name: 'QueueDoesNotExist',
      status: 400,
    })
    expect(await failure(other.send(new GetQueueUrlCommand({ QueueName: name })))).toMatchObject({
      name: 'QueueDoesNotExist',
    })
    const readOnly = client(await createKey(token, { permission: 'read', queues: [name] }))
    expect(
      await failure(readOnly.send(new SendMessageCommand({ QueueUrl, MessageBody: 'x' }))),
    ).toMatchObject({
      name: 'AccessDenied',
      status: 403,
    })
    const response = await fetch(`${platform.url}/sqs`, {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonSQS.Nope', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    })
    expect(response.status).toBe(403)
    expect(response.headers.get('x-amzn-query-error')).toBe('MissingAuthenticationToken;Sender')
    for (const c of [wrong, unknown, other, readOnly]) c.destroy()
  })
})

/**
 * The SQS wire inside workerd: requests signed with the AWS SDK's signer (service `sqs`),
 * errors in SQS's JSON shape, refused requests that change nothing, and tenant isolation.
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { type Keys, signer } from '../blob/support'
import { call, tokenFor, uniqueTenant } from '../helpers'

interface SqsReply {
  status: number
  body: Record<string, unknown>
  queryError: string | null
}

async function sqs(
  keys: Keys,
  action: string,
  input: unknown,
  options: { tamper?: string; contentType?: string } = {},
): Promise<SqsReply> {
  const body = JSON.stringify(input)
  const signed = await signer(keys, 'sqs').sign({
    method: 'POST',
    protocol: 'http:',
    hostname: 'edge.test',
    path: '/sqs',
    headers: {
      host: 'edge.test',
      'content-type': options.contentType ?? 'application/x-amz-json-1.0',
      'x-amz-target': `AmazonSQS.${action}`,
    },
    body,
  })
  const response = await SELF.fetch('http://edge.test/sqs', {
    method: 'POST',
    headers: signed.headers,
    body: options.tamper ?? body,
  })
  return {
    status: response.status,
    body: (await response.json()) as Record<string, unknown>,
    queryError: response.headers.get('x-amzn-query-error'),
  }
}

async function tenantWithKey(grant: Record<string, unknown> = {}) {
  const tenant = uniqueTenant('sqs')
  const token = await tokenFor(tenant, ['blob:write', 'queue:read', 'queue:write'])
  const created = await call<Keys>('/v1/blob/keys', { method: 'POST', token, body: grant })
  if (created.status !== 201) throw new Error(`key creation failed: ${created.status}`)
  return { tenant, token, keys: created.body }
}

async function newQueue(keys: Keys, name = `q-${crypto.randomUUID().slice(0, 8)}`) {
  const created = await sqs(keys, 'CreateQueue', { QueueName: name })
  expect(created.status).toBe(200)
  return { name, url: created.body.QueueUrl as string }
}

async function visible(keys: Keys, url: string): Promise<string | undefined> {
  const reply = await sqs(keys, 'GetQueueAttributes', {
    QueueUrl: url,
    AttributeNames: ['ApproximateNumberOfMessages'],
  })
  return (reply.body.Attributes as Record<string, string>).ApproximateNumberOfMessages
}

describe('auth', () => {
  it('answers unsigned, wrongly signed and tampered requests in SQS shape', async () => {
    const { keys } = await tenantWithKey()
    const { url } = await newQueue(keys)
    const unsigned = await SELF.fetch('http://edge.test/sqs', {
      method: 'POST',
      headers: { 'x-amz-target': 'AmazonSQS.ListQueues', 'content-type': 'application/x-amz-json-1.0' },
      body: '{}',
    })
    expect(unsigned.status).toBe(403)
    expect(await unsigned.json()).toMatchObject({
      __type: expect.stringContaining('MissingAuthenticationToken'),
    })
    expect(unsigned.headers.get('x-amzn-query-error')).toBe('MissingAuthenticationToken;Sender')
    const wrong = await sqs({ ...keys, secretAccessKey: 'x'.repeat(40) }, 'ListQueues', {})
    expect(wrong).toMatchObject({ status: 403, queryError: 'SignatureDoesNotMatch;Sender' })
    const tampered = await sqs(
      keys,
      'SendMessage',
      { QueueUrl: url, MessageBody: 'a' },
      { tamper: JSON.stringify({ QueueUrl: url, MessageBody: 'b' }) },
    )
    expect(tampered).toMatchObject({ status: 403, queryError: 'SignatureDoesNotMatch;Sender' })
    const unknownKey = await sqs(
      { accessKeyId: 'EBAAAAAAAAAAAAAAAAAA', secretAccessKey: 'x' },
      'ListQueues',
      {},
    )
    expect(unknownKey).toMatchObject({ status: 403, queryError: 'InvalidClientTokenId;Sender' })
    expect(await visible(keys, url)).toBe('0')
  })

  it('names unknown actions, malformed bodies and other media types', async () => {
    const { keys } = await tenantWithKey()
    expect(await sqs(keys, 'DoSomething', {})).toMatchObject({
      status: 400,
      queryError: 'UnknownOperation;Sender',
    })
    expect(await sqs(keys, 'ListQueues', [1])).toMatchObject({
      status: 400,
      queryError: 'MalformedInput;Sender',
    })
    expect(await sqs(keys, 'ListQueues', {}, { contentType: 'text/plain' })).toMatchObject({ status: 400 })
  })

  it('limits a key to its queues and to reading when it is read-only', async () => {
    const { keys, token } = await tenantWithKey()
    const mine = await newQueue(keys)
    await newQueue(keys)
    const scoped = await call<Keys>('/v1/blob/keys', {
      method: 'POST',
      token,
      body: { permission: 'read', queues: [mine.name] },
    })
    const listed = await sqs(scoped.body, 'ListQueues', {})
    expect(listed.body.QueueUrls).toEqual([mine.url])
    expect(await sqs(scoped.body, 'SendMessage', { QueueUrl: mine.url, MessageBody: 'x' })).toMatchObject({
      status: 403,
    })
    expect(await sqs(scoped.body, 'CreateQueue', { QueueName: 'other' })).toMatchObject({ status: 403 })
    expect(await visible(keys, mine.url)).toBe('0')
  })
})

describe('isolation', () => {
  it("never reaches another tenant's queue, by URL or by name", async () => {
    const a = await tenantWithKey()
    const b = await tenantWithKey()
    const { name, url } = await newQueue(a.keys)
    const forged = url.replace(encodeURIComponent(a.tenant), encodeURIComponent(b.tenant))
    for (const reply of [
      await sqs(b.keys, 'SendMessage', { QueueUrl: url, MessageBody: 'x' }),
      await sqs(b.keys, 'SendMessage', { QueueUrl: forged, MessageBody: 'x' }),
      await sqs(b.keys, 'GetQueueUrl', { QueueName: name }),
      await sqs(b.keys, 'PurgeQueue', { QueueUrl: url }),
    ]) {
      expect(reply).toMatchObject({
        status: 400,
        queryError: 'AWS.SimpleQueueService.NonExistentQueue;Sender',
      })
      expect(reply.body.__type).toBe('com.amazonaws.sqs#QueueDoesNotExist')
    }
    expect((await sqs(b.keys, 'ListQueues', {})).body.QueueUrls).toEqual([])
    expect(await visible(a.keys, url)).toBe('0')
  })
})

describe('bad input changes nothing', () => {
  it('refuses invalid parameters, batches and attributes', async () => {
    const { keys } = await tenantWithKey()
    const { url } = await newQueue(keys)
    const cases: Array<[string, unknown, string]> = [
      ['ReceiveMessage', { QueueUrl: url, MaxNumberOfMessages: 11 }, 'InvalidParameterValue'],
      ['SendMessage', { QueueUrl: url, MessageBody: '' }, 'MissingParameter'],
      ['SendMessage', { QueueUrl: url, MessageBody: 'x', DelaySeconds: 901 }, 'InvalidParameterValue'],
      [
        'SendMessage',
        {
          QueueUrl: url,
          MessageBody: 'x',
          MessageAttributes: { n: { DataType: 'Number', StringValue: 'x' } },
        },
        'InvalidParameterValue',
      ],
      ['SendMessage', { QueueUrl: url, MessageBody: '\u0000' }, 'InvalidMessageContents'],
      ['SendMessageBatch', { QueueUrl: url, Entries: [] }, 'AWS.SimpleQueueService.EmptyBatchRequest'],
      [
        'SendMessageBatch',
        {
          QueueUrl: url,
          Entries: [
            { Id: 'a', MessageBody: 'x' },
            { Id: 'a', MessageBody: 'y' },
          ],
        },
        'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
      ],
      [
        'SendMessageBatch',
        { QueueUrl: url, Entries: [{ Id: 'bad id', MessageBody: 'x' }] },
        'AWS.SimpleQueueService.InvalidBatchEntryId',
      ],
      ['CreateQueue', { QueueName: 'x', Attributes: { Nope: '1' } }, 'InvalidAttributeName'],
      ['CreateQueue', { QueueName: 'x', Attributes: { VisibilityTimeout: '-1' } }, 'InvalidAttributeValue'],
      ['CreateQueue', { QueueName: 'x', Attributes: { FifoQueue: 'true' } }, 'InvalidParameterValue'],
      ['CreateQueue', { QueueName: 'bad name!' }, 'InvalidParameterValue'],
      ['DeleteMessage', { QueueUrl: url, ReceiptHandle: 'junk' }, 'ReceiptHandleIsInvalid'],
    ]
    for (const [action, input, code] of cases) {
      const reply = await sqs(keys, action, input)
      expect({ action, code: reply.queryError }).toEqual({ action, code: `${code};Sender` })
      expect(reply.status).toBe(400)
    }
    expect(await visible(keys, url)).toBe('0')
    expect((await sqs(keys, 'ListQueues', {})).body.QueueUrls).toEqual([url])
  })
})

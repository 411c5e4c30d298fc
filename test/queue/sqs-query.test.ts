/**
 * The SQS query protocol inside workerd: form requests signed with the AWS SDK's signer
 * (service `sqs`), XML answers and XML errors, GET and presigned GET, requests posted to a
 * queue URL, and the one action layer behind both protocols (a message crosses between
 * them; a refusal is the same refusal). Refused requests change nothing.
 */
import { SELF } from 'cloudflare:test'
import { describe, expect, it } from 'vitest'
import { type Keys, signer } from '../blob/support'
import { call, tokenFor, uniqueTenant } from '../helpers'

interface Reply {
  status: number
  xml: string
  type: string | null
}

const FORM = 'application/x-www-form-urlencoded'

function encodeForm(params: Record<string, string>): string {
  return Object.entries(params)
    .map(([name, value]) => `${encodeURIComponent(name)}=${encodeURIComponent(value)}`)
    .join('&')
}

async function reply(response: Response): Promise<Reply> {
  return { status: response.status, xml: await response.text(), type: response.headers.get('content-type') }
}

/** A signed form POST (to `/sqs` or a queue's path); `body` replaces the encoded params when given. */
async function query(
  keys: Keys,
  params: Record<string, string>,
  options: { path?: string; body?: string; contentType?: string } = {},
): Promise<Reply> {
  const path = options.path ?? '/sqs'
  const body = options.body ?? encodeForm({ Version: '2012-11-05', ...params })
  const headers = { host: 'edge.test', 'content-type': options.contentType ?? FORM }
  const signed = await signer(keys, 'sqs').sign({
    method: 'POST',
    protocol: 'http:',
    hostname: 'edge.test',
    path,
    headers,
    body,
  })
  return reply(await SELF.fetch(`http://edge.test${path}`, { method: 'POST', headers: signed.headers, body }))
}

async function json(keys: Keys, action: string, input: unknown): Promise<Record<string, unknown>> {
  const body = JSON.stringify(input)
  const headers = {
    host: 'edge.test',
    'content-type': 'application/x-amz-json-1.0',
    'x-amz-target': `AmazonSQS.${action}`,
  }
  const signed = await signer(keys, 'sqs').sign({
    method: 'POST',
    protocol: 'http:',
    hostname: 'edge.test',
    path: '/sqs',
    headers,
    body,
  })
  const response = await SELF.fetch('http://edge.test/sqs', { method: 'POST', headers: signed.headers, body })
  return { status: response.status, ...((await response.json()) as Record<string, unknown>) }
}

const element = (xml: string, name: string) => xml.match(new RegExp(`<${name}>([^<]*)</${name}>`))?.[1]
const unescapeXml = (text: string) =>
  text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&#xD;', '\r')
    .replaceAll('&amp;', '&')

async function tenantWithKey() {
  const tenant = uniqueTenant('sqsq')
  const token = await tokenFor(tenant, ['blob:write', 'queue:read', 'queue:write'])
  const created = await call<Keys>('/v1/blob/keys', { method: 'POST', token, body: {} })
  if (created.status !== 201) throw new Error(`key creation failed: ${created.status}`)
  return { tenant, keys: created.body }
}

async function newQueue(keys: Keys, name = `q-${crypto.randomUUID().slice(0, 8)}`) {
  const created = await query(keys, { Action: 'CreateQueue', QueueName: name })
  expect(created.status).toBe(200)
  return { name, url: element(created.xml, 'QueueUrl') as string }
}

async function visible(keys: Keys, url: string) {
  const answer = await query(keys, {
    Action: 'GetQueueAttributes',
    QueueUrl: url,
    'AttributeName.1': 'ApproximateNumberOfMessages',
  })
  return answer.xml.match(/<Name>ApproximateNumberOfMessages<\/Name><Value>(\d+)<\/Value>/)?.[1]
}

describe('query protocol', () => {
  it('sends and receives with XML escaping exact, and a message crosses to the JSON protocol', async () => {
    const { keys } = await tenantWithKey()
    const { url } = await newQueue(keys)
    const body = `<a b="c">'&'</a>\r\n\ttab é😀`
    const sent = await query(keys, {
      Action: 'SendMessage',
      QueueUrl: url,
      MessageBody: body,
      'MessageAttribute.1.Name': 'k',
      'MessageAttribute.1.Value.DataType': 'String',
      'MessageAttribute.1.Value.StringValue': '<v&>',
    })
    expect(sent.status).toBe(200)
    expect(sent.type).toBe('text/xml')
    expect(sent.xml).toMatch(
      /^<\?xml version="1.0"\?><SendMessageResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><SendMessageResult><MessageId>/,
    )
    expect(sent.xml).toMatch(/<ResponseMetadata><RequestId>[0-9a-f-]{36}<\/RequestId><\/ResponseMetadata>/)
    const received = await query(keys, {
      Action: 'ReceiveMessage',
      QueueUrl: url,
      'MessageAttributeName.1': 'All',
      VisibilityTimeout: '0',
    })
    expect(received.xml).toContain(
      '<Body>&lt;a b=&quot;c&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;&#xD;\n\ttab é😀</Body>',
    )
    expect(unescapeXml(element(received.xml, 'Body') as string)).toBe(body)
    expect(element(received.xml, 'MD5OfBody')).toBe(element(sent.xml, 'MD5OfMessageBody'))
    expect(element(received.xml, 'MD5OfMessageAttributes')).toBe(element(sent.xml, 'MD5OfMessageAttributes'))
    expect(received.xml).toContain(
      '<MessageAttribute><Name>k</Name><Value><StringValue>&lt;v&amp;&gt;</StringValue><DataType>String</DataType></Value></MessageAttribute>',
    )
    const overJson = await json(keys, 'ReceiveMessage', { QueueUrl: url, MessageAttributeNames: ['All'] })
    expect(overJson.Messages).toEqual([
      expect.objectContaining({
        MessageId: element(sent.xml, 'MessageId'),
        Body: body,
        MessageAttributes: { k: { DataType: 'String', StringValue: '<v&>' } },
      }),
    ])
  })

  it('takes GET, presigned GET, and POSTs to the queue URL without a QueueUrl parameter', async () => {
    const { keys, tenant } = await tenantWithKey()
    const { name, url } = await newQueue(keys)
    const path = `/sqs/${tenant}/${name}`
    const posted = await query(keys, { Action: 'SendMessage', MessageBody: 'to the path' }, { path })
    expect(posted.status).toBe(200)
    const signedGet = await signer(keys, 'sqs').sign({
      method: 'GET',
      protocol: 'http:',
      hostname: 'edge.test',
      path,
      query: { Action: 'ReceiveMessage', 'AttributeName.1': 'All' },
      headers: { host: 'edge.test' },
    })
    const got = await reply(
      await SELF.fetch(`http://edge.test${path}?Action=ReceiveMessage&AttributeName.1=All`, {
        headers: signedGet.headers,
      }),
    )
    expect(got.status).toBe(200)
    expect(element(got.xml, 'Body')).toBe('to the path')
    expect(got.xml).toContain('<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>')
    const presigned = await signer(keys, 'sqs').presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: 'edge.test',
        path: '/sqs',
        query: { Action: 'ListQueues' },
        headers: { host: 'edge.test' },
      },
      { expiresIn: 300 },
    )
    const search = new URLSearchParams(presigned.query as Record<string, string>).toString()
    const listed = await reply(await SELF.fetch(`http://edge.test/sqs?${search}`))
    expect(listed.status).toBe(200)
    expect(listed.xml).toContain(`<ListQueuesResult><QueueUrl>${url}</QueueUrl></ListQueuesResult>`)
  })

  it("answers SQS's XML errors for bad auth, actions, forms and parameters, and changes nothing", async () => {
    const { keys, tenant } = await tenantWithKey()
    const { url } = await newQueue(keys)
    const unsigned = await reply(
      await SELF.fetch('http://edge.test/sqs', {
        method: 'POST',
        headers: { 'content-type': FORM },
        body: `Action=SendMessage&QueueUrl=${encodeURIComponent(url)}&MessageBody=x`,
      }),
    )
    expect(unsigned.status).toBe(403)
    expect(unsigned.xml).toMatch(
      /^<\?xml version="1.0"\?><ErrorResponse xmlns="http:\/\/queue.amazonaws.com\/doc\/2012-11-05\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code><Message>[^<]+<\/Message><Detail\/><\/Error><RequestId>[0-9a-f-]{36}<\/RequestId><\/ErrorResponse>$/,
    )
    const send = `Action=SendMessage&QueueUrl=${encodeURIComponent(url)}&MessageBody=`
    const cases: Array<[string, Promise<Reply>, number, string]> = [
      [
        'wrong secret',
        query({ ...keys, secretAccessKey: 'x'.repeat(40) }, { Action: 'ListQueues' }),
        403,
        'SignatureDoesNotMatch',
      ],
      ['unknown action', query(keys, { Action: 'Nope' }), 400, 'InvalidAction'],
      ['no action', query(keys, { QueueName: 'x' }), 400, 'MissingAction'],
      ['bad escape', query(keys, {}, { body: `${send}%E0%A4%A` }), 400, 'MalformedQueryString'],
      ['repeated', query(keys, {}, { body: `${send}a&MessageBody=b` }), 400, 'MalformedQueryString'],
      [
        'unknown parameter',
        query(keys, { Action: 'SendMessage', QueueUrl: url, MessageBody: 'x', Colour: 'red' }),
        400,
        'InvalidQueryParameter',
      ],
      [
        'list hole',
        query(keys, {
          Action: 'SendMessage',
          QueueUrl: url,
          MessageBody: 'x',
          'MessageAttribute.2.Name': 'a',
          'MessageAttribute.2.Value.DataType': 'String',
          'MessageAttribute.2.Value.StringValue': 'v',
        }),
        400,
        'InvalidQueryParameter',
      ],
      [
        'bad number',
        query(keys, { Action: 'SendMessage', QueueUrl: url, MessageBody: 'x', DelaySeconds: 'soon' }),
        400,
        'InvalidParameterValue',
      ],
      [
        'no queue',
        query(keys, { Action: 'SendMessage', QueueUrl: `${url}-missing`, MessageBody: 'x' }),
        400,
        'AWS.SimpleQueueService.NonExistentQueue',
      ],
      [
        'other tenant',
        query(keys, { Action: 'SendMessage', QueueUrl: url.replace(tenant, 'someone'), MessageBody: 'x' }),
        400,
        'AWS.SimpleQueueService.NonExistentQueue',
      ],
      [
        'duplicate ids',
        query(keys, {
          Action: 'SendMessageBatch',
          QueueUrl: url,
          'SendMessageBatchRequestEntry.1.Id': 'a',
          'SendMessageBatchRequestEntry.1.MessageBody': 'x',
          'SendMessageBatchRequestEntry.2.Id': 'a',
          'SendMessageBatchRequestEntry.2.MessageBody': 'y',
        }),
        400,
        'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
      ],
      [
        'bad receipt',
        query(keys, { Action: 'DeleteMessage', QueueUrl: url, ReceiptHandle: 'junk' }),
        400,
        'ReceiptHandleIsInvalid',
      ],
    ]
    for (const [what, pending, status, code] of cases) {
      const answer = await pending
      expect({ what, status: answer.status, code: element(answer.xml, 'Code'), type: answer.type }).toEqual({
        what,
        status,
        code,
        type: 'text/xml',
      })
    }
    expect(await visible(keys, url)).toBe('0')
    const listed = await query(keys, { Action: 'ListQueues' })
    expect(listed.xml.match(/<QueueUrl>/g)?.length).toBe(1)
  })
})

describe('one action layer for both protocols', () => {
  it('enforces RedriveAllowPolicy and lists move tasks the same over JSON and query', async () => {
    const { keys, tenant } = await tenantWithKey()
    const arn = (name: string) => `arn:aws:sqs:auto:${tenant}:${name}`
    await newQueue(keys, 'dlq')
    const deny = JSON.stringify({ redrivePermission: 'denyAll' })
    expect(
      (
        await query(keys, {
          Action: 'SetQueueAttributes',
          QueueUrl: `http://edge.test/sqs/${tenant}/dlq`,
          'Attribute.1.Name': 'RedriveAllowPolicy',
          'Attribute.1.Value': deny,
        })
      ).status,
    ).toBe(200)
    const redrive = JSON.stringify({ deadLetterTargetArn: arn('dlq'), maxReceiveCount: 2 })
    const overQuery = await query(keys, {
      Action: 'CreateQueue',
      QueueName: 'src',
      'Attribute.1.Name': 'RedrivePolicy',
      'Attribute.1.Value': redrive,
    })
    const overJson = await json(keys, 'CreateQueue', {
      QueueName: 'src',
      Attributes: { RedrivePolicy: redrive },
    })
    expect([overQuery.status, element(overQuery.xml, 'Code')]).toEqual([400, 'InvalidParameterValue'])
    expect(overJson).toMatchObject({ status: 400, __type: 'com.amazonaws.sqs#InvalidParameterValue' })
    expect(element(overQuery.xml, 'Message')).toContain('RedriveAllowPolicy')
    expect(await json(keys, 'ListQueues', {})).toMatchObject({
      QueueUrls: [`http://edge.test/sqs/${tenant}/dlq`],
    })

    expect(await json(keys, 'ListMessageMoveTasks', { SourceArn: arn('dlq') })).toEqual({
      status: 200,
      Results: [],
    })
    const started = await json(keys, 'StartMessageMoveTask', { SourceArn: arn('dlq') })
    expect(started).toMatchObject({ status: 200, TaskHandle: expect.any(String) })
    await query(keys, {
      Action: 'StartMessageMoveTask',
      SourceArn: arn('dlq'),
      MaxNumberOfMessagesPerSecond: '10',
    })
    const tasks = (await json(keys, 'ListMessageMoveTasks', { SourceArn: arn('dlq'), MaxResults: 10 }))
      .Results as Array<Record<string, unknown>>
    expect(
      tasks.map((task) => [
        task.Status,
        task.MaxNumberOfMessagesPerSecond,
        task.ApproximateNumberOfMessagesMoved,
      ]),
    ).toEqual([
      ['COMPLETED', 10, 0],
      ['COMPLETED', undefined, 0],
    ])
    expect(tasks[1]?.TaskHandle).toBe(started.TaskHandle)
    const newest = await query(keys, { Action: 'ListMessageMoveTasks', SourceArn: arn('dlq') })
    expect(newest.xml.match(/<ListMessageMoveTasksResultEntry>/g)?.length).toBe(1)
    expect(element(newest.xml, 'SourceArn')).toBe(arn('dlq'))
    expect(await json(keys, 'CancelMessageMoveTask', { TaskHandle: started.TaskHandle })).toMatchObject({
      status: 400,
      __type: 'com.amazonaws.sqs#ResourceNotFoundException',
    })
    expect(await json(keys, 'ListMessageMoveTasks', { SourceArn: arn('nope') })).toMatchObject({
      status: 400,
      __type: 'com.amazonaws.sqs#ResourceNotFoundException',
    })
  })
})

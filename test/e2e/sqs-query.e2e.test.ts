/**
 * SQS's legacy query protocol (form `Action=…`, XML answers) driven by a real client that
 * speaks it: boto3 from Debian's python3-boto3 (its SQS model predates the JSON protocol),
 * run as `/usr/bin/python3 test/e2e/clients/sqs_query.py <scenario>`; plus the README's
 * curl example (`curl --aws-sigv4`).
 */
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type RunningPlatform, startPlatform } from '../../scripts/platform-process'

const run = promisify(execFile)
const TENANT = 'sqs-query-e2e'
const PYTHON = '/usr/bin/python3'
const SCRIPT = 'test/e2e/clients/sqs_query.py'

let platform: RunningPlatform
let keys: { accessKeyId: string; secretAccessKey: string }

async function scenario(name: string): Promise<Record<string, unknown>> {
  const { stdout } = await run(PYTHON, [SCRIPT, name], {
    env: {
      PATH: process.env.PATH ?? '',
      SQS_ENDPOINT: `${platform.url}/sqs`,
      SQS_KEY_ID: keys.accessKeyId,
      SQS_SECRET: keys.secretAccessKey,
      SQS_TENANT: TENANT,
      SQS_PREFIX: `${name}-${randomBytes(4).toString('hex')}`,
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    },
    timeout: 90_000,
  })
  return JSON.parse(stdout) as Record<string, unknown>
}

beforeAll(async () => {
  platform = await startPlatform()
  const token = await platform.token(TENANT, ['blob:write', 'queue:read', 'queue:write'])
  const response = await fetch(`${platform.url}/v1/blob/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  })
  expect(response.status).toBe(201)
  keys = (await response.json()) as typeof keys
})

afterAll(async () => {
  await platform?.stop()
})

describe('boto3 over the query protocol', () => {
  it('sends with typed attributes, receives, changes visibility and deletes, one and batched', async () => {
    const result = await scenario('messages')
    expect(result.protocol).toBe('query')
    expect(result.contentTypes).toEqual(['application/x-www-form-urlencoded; charset=utf-8'])
    expect(result.sent).toMatchObject({ md5Body: true, md5Attributes: true })
    expect((result.received as { id: string }).id).toBe((result.sent as { id: string }).id)
    expect(result.received).toEqual({
      count: 1,
      bodySame: true,
      id: expect.any(String),
      md5Body: true,
      md5Attributes: true,
      attributesSame: true,
      system: ['ApproximateFirstReceiveTimestamp', 'ApproximateReceiveCount', 'SenderId', 'SentTimestamp'],
      receiveCount: '1',
    })
    expect(result.batch).toEqual({
      successful: ['one', 'two'],
      failed: [['bad', 'InvalidParameterValue', true]],
      md5: true,
    })
    expect(result.receivedBodies).toEqual(['first', 'second'])
    expect(result.visibility).toEqual({
      successful: ['v0', 'v1'],
      failed: [['junk', 'ReceiptHandleIsInvalid']],
    })
    expect(result.deleted).toEqual({ successful: ['d0', 'd1'], failed: [['junk', 'ReceiptHandleIsInvalid']] })
    expect(result.after).toEqual({
      ApproximateNumberOfMessages: '0',
      ApproximateNumberOfMessagesNotVisible: '0',
      VisibilityTimeout: '30',
    })
  })

  it('creates, finds, lists, configures, tags, purges and deletes queues', async () => {
    const result = await scenario('queues')
    expect(result).toMatchObject({
      same: true,
      listed: true,
      paged: { count: 1, hasNext: false },
      attributes: {
        DelaySeconds: '5',
        VisibilityTimeout: '45',
        ReceiveMessageWaitTimeSeconds: '2',
        QueueArn: expect.stringMatching(new RegExp(`^arn:aws:sqs:auto:${TENANT}:queues-`)),
      },
      tags: { owner: '<me>' },
      purged: { ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesDelayed: '0' },
      gone: { code: 'AWS.SimpleQueueService.NonExistentQueue', type: 'Sender', status: 400 },
      goneTyped: true,
    })
    expect(result.url).toMatch(new RegExp(`^${platform.url}/sqs/${TENANT}/queues-[0-9a-f]+-q$`))
  })

  it('keeps FIFO order, deduplicates by content and numbers messages', async () => {
    const result = await scenario('fifo')
    expect(result.sequence).toMatch(/^\d{20}$/)
    expect(result).toMatchObject({
      deduplicated: true,
      batchSequence: true,
      bodies: ['a', 'b', 'c', 'd'],
      groups: ['g', 'g', 'g', 'h'],
      missingGroup: { code: 'InvalidParameterValue', status: 400 },
    })
  })

  it("answers SQS's XML errors and changes nothing", async () => {
    const result = await scenario('errors')
    expect(result).toEqual({
      nonExistent: { code: 'AWS.SimpleQueueService.NonExistentQueue', type: 'Sender', status: 400 },
      otherTenant: { code: 'AWS.SimpleQueueService.NonExistentQueue', type: 'Sender', status: 400 },
      badSignature: { code: 'SignatureDoesNotMatch', type: 'Sender', status: 403 },
      duplicateIds: {
        code: 'AWS.SimpleQueueService.BatchEntryIdsNotDistinct',
        type: 'Sender',
        status: 400,
      },
      tooMany: { code: 'AWS.SimpleQueueService.TooManyEntriesInBatchRequest', type: 'Sender', status: 400 },
      badReceipt: { code: 'ReceiptHandleIsInvalid', type: 'Sender', status: 400 },
      badAttribute: { code: 'InvalidAttributeName', type: 'Sender', status: 400 },
      badValue: { code: 'InvalidParameterValue', type: 'Sender', status: 400 },
      stillEmpty: '0',
      botocore: result.botocore,
    })
  })

  it('dead-letters, enforces RedriveAllowPolicy, redrives and lists the move tasks', async () => {
    const result = await scenario('redrive')
    expect(result).toMatchObject({
      refused: { code: 'InvalidParameterValue', status: 400 },
      strangerCreated: false,
      dead: ['poison'],
      sources: true,
      started: 200,
      handle: true,
      back: ['poison'],
      cancel: { status: 400, code: 'ResourceNotFoundException' },
      denied: { code: 'InvalidParameterValue', status: 400 },
      allowPolicy: '{"redrivePermission":"denyAll"}',
    })
    expect(result.tasks).toEqual([
      {
        TaskHandle: expect.any(String),
        Status: 'COMPLETED',
        SourceArn: expect.stringMatching(/-dlq$/),
        ApproximateNumberOfMessagesMoved: '1',
        ApproximateNumberOfMessagesToMove: '1',
        StartedTimestamp: expect.stringMatching(/^\d{13}$/),
      },
    ])
  })

  it('takes GET query strings and requests posted to the queue URL', async () => {
    const result = await scenario('raw')
    expect(result).toMatchObject({
      get: { status: 200, url: true },
      post: { status: 200, md5: true },
      received: [['posted to the queue URL', 'v']],
      unknown: { status: 400, code: 'InvalidAction', type: 'Sender' },
    })
  })
})

describe('curl', () => {
  it("runs the README's example with --aws-sigv4", async () => {
    const name = `curl-${randomBytes(4).toString('hex')}`
    const curl = async (...args: string[]) =>
      (
        await run('curl', [
          '-sS',
          '--aws-sigv4',
          'aws:amz:auto:sqs',
          '--user',
          `${keys.accessKeyId}:${keys.secretAccessKey}`,
          ...args,
        ])
      ).stdout
    const created = await curl(`${platform.url}/sqs`, '-d', 'Action=CreateQueue', '-d', `QueueName=${name}`)
    expect(created).toContain(`<QueueUrl>${platform.url}/sqs/${TENANT}/${name}</QueueUrl>`)
    const sent = await curl(
      `${platform.url}/sqs/${TENANT}/${name}`,
      '-d',
      'Action=SendMessage',
      '--data-urlencode',
      'MessageBody=hello <world>',
    )
    expect(sent).toMatch(/<SendMessageResult><MessageId>[^<]+<\/MessageId><MD5OfMessageBody>/)
    const received = await curl(
      `${platform.url}/sqs/${TENANT}/${name}?Action=ReceiveMessage&AttributeName.1=All`,
    )
    expect(received).toContain('<Body>hello &lt;world&gt;</Body>')
    expect(received).toContain('<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>')
  })
})

/** The query protocol codec: strict form parsing, flattened lists and maps, XML out, SQS's error codes. */
import { describe, expect, it } from 'vitest'
import { SqsError } from '../../workers/queue/sqs/errors'
import { decodeQuery, encodeQueryResponse, parseForm } from '../../workers/queue/sqs/query'
import { fromQueueAttributes, redriveAllowed } from '../../workers/queue/sqs/queue-attributes'
import { encodeQueryError, escapeXml } from '../../workers/queue/sqs/xml'

const code = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    if (error instanceof SqsError) return error.code
    throw error
  }
  return 'none'
}

const form = (text: string) => parseForm(text)

describe('parseForm', () => {
  it('decodes percent-encoding and + as space, keeps empty values', () => {
    expect([...form('Action=SendMessage&MessageBody=a+b%26c%3D%F0%9F%98%80&Empty=&Flag')]).toEqual([
      ['Action', 'SendMessage'],
      ['MessageBody', 'a b&c=😀'],
      ['Empty', ''],
      ['Flag', ''],
    ])
  })

  it('refuses bad percent-encoding, nameless and repeated parameters', () => {
    expect(code(() => form('MessageBody=%E0%A4%A'))).toBe('MalformedQueryString')
    expect(code(() => form('=x'))).toBe('MalformedQueryString')
    expect(code(() => form('Action=A&Action=B'))).toBe('MalformedQueryString')
  })
})

describe('decodeQuery', () => {
  it('builds the JSON input of a batch with nested attribute maps and numbers', () => {
    const params = form(
      [
        'Action=SendMessageBatch',
        'Version=2012-11-05',
        'QueueUrl=http%3A%2F%2Fh%2Fsqs%2Ft%2Fq',
        'SendMessageBatchRequestEntry.1.Id=a',
        'SendMessageBatchRequestEntry.1.MessageBody=one',
        'SendMessageBatchRequestEntry.1.DelaySeconds=5',
        'SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=n',
        'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=Number',
        'SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=1.5',
        'SendMessageBatchRequestEntry.1.MessageAttribute.2.Name=b',
        'SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.DataType=Binary',
        'SendMessageBatchRequestEntry.1.MessageAttribute.2.Value.BinaryValue=AAE%3D',
        'SendMessageBatchRequestEntry.2.Id=b',
        'SendMessageBatchRequestEntry.2.MessageBody=two',
        'SendMessageBatchRequestEntry.2.DelaySeconds=soon',
      ].join('&'),
    )
    expect(decodeQuery(params, undefined)).toEqual({
      action: 'SendMessageBatch',
      input: {
        QueueUrl: 'http://h/sqs/t/q',
        Entries: [
          {
            Id: 'a',
            MessageBody: 'one',
            DelaySeconds: 5,
            MessageAttributes: {
              n: { DataType: 'Number', StringValue: '1.5' },
              b: { DataType: 'Binary', BinaryValue: 'AAE=' },
            },
          },
          // Not a number: passed on as text, for the action to refuse in SQS's words.
          { Id: 'b', MessageBody: 'two', DelaySeconds: 'soon' },
        ],
      },
    })
  })

  it('reads flattened lists and maps under their query names', () => {
    expect(
      decodeQuery(
        form(
          'Action=CreateQueue&QueueName=q&Attribute.1.Name=DelaySeconds&Attribute.1.Value=3&Attribute.2.Name=RedrivePolicy&Attribute.2.Value=&Tag.1.Key=k&Tag.1.Value=v',
        ),
        undefined,
      ).input,
    ).toEqual({ QueueName: 'q', Attributes: { DelaySeconds: '3', RedrivePolicy: '' }, tags: { k: 'v' } })
    expect(
      decodeQuery(
        form('Action=ReceiveMessage&AttributeName.1=All&MessageAttributeName.1=a.*&MaxNumberOfMessages=10'),
        'u',
      ).input,
    ).toEqual({
      QueueUrl: 'u',
      AttributeNames: ['All'],
      MessageAttributeNames: ['a.*'],
      MaxNumberOfMessages: 10,
    })
    expect(decodeQuery(form('Action=UntagQueue&QueueUrl=x&TagKey.1=a&TagKey.2=b'), 'u').input).toEqual({
      QueueUrl: 'x',
      TagKeys: ['a', 'b'],
    })
  })

  it('takes the queue URL the request was posted to only when the parameters name none, and only for queue actions', () => {
    expect(decodeQuery(form('Action=PurgeQueue'), 'http://h/sqs/t/q').input).toEqual({
      QueueUrl: 'http://h/sqs/t/q',
    })
    expect(decodeQuery(form('Action=ListQueues'), 'http://h/sqs/t/q').input).toEqual({})
  })

  it('refuses what SQS refuses: no action, unknown actions, unknown or stray parameters, holes, half entries', () => {
    expect(code(() => decodeQuery(form('Version=2012-11-05'), undefined))).toBe('MissingAction')
    expect(code(() => decodeQuery(form('Action=Nope'), undefined))).toBe('InvalidAction')
    expect(code(() => decodeQuery(form('Action=constructor'), undefined))).toBe('InvalidAction')
    expect(code(() => decodeQuery(form('Action=ListQueues&Prefix=a'), undefined))).toBe(
      'InvalidQueryParameter',
    )
    expect(code(() => decodeQuery(form('Action=GetQueueAttributes&AttributeName.2=All'), undefined))).toBe(
      'InvalidQueryParameter',
    )
    expect(code(() => decodeQuery(form('Action=GetQueueAttributes&AttributeName.0=All'), undefined))).toBe(
      'InvalidQueryParameter',
    )
    expect(
      code(() => decodeQuery(form('Action=SetQueueAttributes&Attribute.1.Name=DelaySeconds'), undefined)),
    ).toBe('MissingParameter')
    expect(
      code(() =>
        decodeQuery(form('Action=TagQueue&Tag.1.Key=a&Tag.1.Value=1&Tag.2.Key=a&Tag.2.Value=2'), undefined),
      ),
    ).toBe('InvalidParameterValue')
    // Signing parameters of a presigned request belong to no action.
    expect(
      decodeQuery(form('Action=ListQueues&X-Amz-Signature=abc&X-Amz-Date=20260101T000000Z'), undefined).input,
    ).toEqual({})
  })
})

describe('XML', () => {
  it('escapes markup and keeps carriage returns', () => {
    expect(escapeXml(`<a href="x">'&'</a>\r\n`)).toBe(
      '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;&#xD;\n',
    )
  })

  it('writes flattened lists and maps, nested values, and no Result for actions without output', () => {
    const xml = encodeQueryResponse(
      'ReceiveMessage',
      {
        Messages: [
          {
            MessageId: 'm',
            ReceiptHandle: 'r',
            MD5OfBody: 'd',
            Body: '<b>&',
            Attributes: { SentTimestamp: '1' },
            MessageAttributes: { k: { DataType: 'String', StringValue: 'v' } },
          },
        ],
      },
      'req',
    )
    expect(xml).toBe(
      '<?xml version="1.0"?><ReceiveMessageResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">' +
        '<ReceiveMessageResult><Message><MessageId>m</MessageId><ReceiptHandle>r</ReceiptHandle><MD5OfBody>d</MD5OfBody>' +
        '<Body>&lt;b&gt;&amp;</Body><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>' +
        '<MessageAttribute><Name>k</Name><Value><StringValue>v</StringValue><DataType>String</DataType></Value></MessageAttribute>' +
        '</Message></ReceiveMessageResult><ResponseMetadata><RequestId>req</RequestId></ResponseMetadata></ReceiveMessageResponse>',
    )
    expect(encodeQueryResponse('DeleteQueue', {}, 'id')).toBe(
      '<?xml version="1.0"?><DeleteQueueResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/">' +
        '<ResponseMetadata><RequestId>id</RequestId></ResponseMetadata></DeleteQueueResponse>',
    )
    expect(
      encodeQueryResponse(
        'SendMessageBatch',
        { Successful: [], Failed: [{ Id: 'a', SenderFault: true, Code: 'X', Message: 'm' }] },
        'id',
      ),
    ).toContain(
      '<SendMessageBatchResult><BatchResultErrorEntry><Id>a</Id><SenderFault>true</SenderFault><Code>X</Code><Message>m</Message></BatchResultErrorEntry></SendMessageBatchResult>',
    )
  })

  it("writes SQS's error document with the query code", () => {
    const error = new SqsError('QueueDoesNotExist', 'The specified queue does not exist.')
    expect(encodeQueryError('Sender', error.queryCode, error.message, 'r')).toBe(
      '<?xml version="1.0"?><ErrorResponse xmlns="http://queue.amazonaws.com/doc/2012-11-05/"><Error><Type>Sender</Type>' +
        '<Code>AWS.SimpleQueueService.NonExistentQueue</Code><Message>The specified queue does not exist.</Message><Detail/></Error>' +
        '<RequestId>r</RequestId></ErrorResponse>',
    )
  })
})

describe('RedriveAllowPolicy', () => {
  const arn = (name: string) => `arn:aws:sqs:auto:t:${name}`

  it('normalizes the three permissions and refuses anything else', () => {
    const policy = (value: unknown) =>
      fromQueueAttributes({ RedriveAllowPolicy: JSON.stringify(value) }, 't').redriveAllowPolicy
    expect(policy({ redrivePermission: 'allowAll' })).toBe('{"redrivePermission":"allowAll"}')
    expect(policy({ redrivePermission: 'byQueue', sourceQueueArns: [arn('a')] })).toBe(
      `{"redrivePermission":"byQueue","sourceQueueArns":["${arn('a')}"]}`,
    )
    for (const bad of [
      { redrivePermission: 'some' },
      { redrivePermission: 'byQueue' },
      { redrivePermission: 'byQueue', sourceQueueArns: [] },
      { redrivePermission: 'byQueue', sourceQueueArns: Array.from({ length: 11 }, (_, i) => arn(`q${i}`)) },
      { redrivePermission: 'byQueue', sourceQueueArns: ['not-an-arn'] },
      { redrivePermission: 'denyAll', sourceQueueArns: [arn('a')] },
      [],
    ])
      expect(code(() => policy(bad))).toBe('InvalidAttributeValue')
    expect(code(() => fromQueueAttributes({ RedriveAllowPolicy: '{' }, 't'))).toBe('InvalidAttributeValue')
  })

  it('allows by default, never under denyAll, and by queue only the listed ones of the tenant', () => {
    expect(redriveAllowed(undefined, 't', 'a')).toBe(true)
    expect(redriveAllowed('{"redrivePermission":"allowAll"}', 't', 'a')).toBe(true)
    expect(redriveAllowed('{"redrivePermission":"denyAll"}', 't', 'a')).toBe(false)
    const byQueue = JSON.stringify({ redrivePermission: 'byQueue', sourceQueueArns: [arn('a')] })
    expect(redriveAllowed(byQueue, 't', 'a')).toBe(true)
    expect(redriveAllowed(byQueue, 't', 'b')).toBe(false)
    expect(redriveAllowed(byQueue, 'other', 'a')).toBe(false)
  })
})

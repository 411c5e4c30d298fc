/**
 * The query protocol's view of every SQS action (pure data): for each member of an
 * action's JSON input and output, its type and the name the query protocol gives it, as
 * in SQS's 2012-11-05 model. Lists and maps are flattened: a list of `AttributeName` is
 * `AttributeName.1`, `AttributeName.2`…; a map is `Attribute.1.Name` / `Attribute.1.Value`.
 * The same names are the XML elements of the responses.
 */

export type Shape =
  | { kind: 'string' | 'integer' | 'long' | 'boolean' }
  /** A flattened list whose items are named `name`. */
  | { kind: 'list'; name: string; item: Shape }
  /** A flattened map whose entries are named `name`, with `key` and `value` children. */
  | { kind: 'map'; name: string; key: string; value: string; item: Shape }
  /** A structure: JSON member name → its shape (named as the member unless it is a list or map). */
  | { kind: 'structure'; members: Record<string, Shape> }

const S: Shape = { kind: 'string' }
const I: Shape = { kind: 'integer' }
const L: Shape = { kind: 'long' }
const B: Shape = { kind: 'boolean' }
const list = (name: string, item: Shape = S): Shape => ({ kind: 'list', name, item })
const map = (name: string, key: string, value: string, item: Shape = S): Shape => ({
  kind: 'map',
  name,
  key,
  value,
  item,
})
const struct = (members: Record<string, Shape>): Shape & { kind: 'structure' } => ({
  kind: 'structure',
  members,
})

const attributeValue = struct({
  StringValue: S,
  BinaryValue: S,
  StringListValues: list('StringListValue'),
  BinaryListValues: list('BinaryListValue'),
  DataType: S,
})
const messageAttributes = map('MessageAttribute', 'Name', 'Value', attributeValue)
const messageSystemAttributes = map('MessageSystemAttribute', 'Name', 'Value', attributeValue)
const queueAttributes = map('Attribute', 'Name', 'Value')
const tags = map('Tag', 'Key', 'Value')
const queueUrls = list('QueueUrl')
const failed = list('BatchResultErrorEntry', struct({ Id: S, SenderFault: B, Code: S, Message: S }))
const queue = { QueueUrl: S }
const sent = {
  MessageId: S,
  MD5OfMessageBody: S,
  MD5OfMessageAttributes: S,
  MD5OfMessageSystemAttributes: S,
  SequenceNumber: S,
}
const sendEntry = {
  MessageBody: S,
  DelaySeconds: I,
  MessageAttributes: messageAttributes,
  MessageSystemAttributes: messageSystemAttributes,
  MessageDeduplicationId: S,
  MessageGroupId: S,
}

export interface ActionShape {
  input: Shape & { kind: 'structure' }
  output?: Shape & { kind: 'structure' }
}

export const ACTION_SHAPES: Record<string, ActionShape> = {
  CreateQueue: {
    input: struct({ QueueName: S, Attributes: queueAttributes, tags }),
    output: struct(queue),
  },
  GetQueueUrl: { input: struct({ QueueName: S, QueueOwnerAWSAccountId: S }), output: struct(queue) },
  ListQueues: {
    input: struct({ QueueNamePrefix: S, NextToken: S, MaxResults: I }),
    output: struct({ QueueUrls: queueUrls, NextToken: S }),
  },
  GetQueueAttributes: {
    input: struct({ ...queue, AttributeNames: list('AttributeName') }),
    output: struct({ Attributes: queueAttributes }),
  },
  SetQueueAttributes: { input: struct({ ...queue, Attributes: queueAttributes }) },
  DeleteQueue: { input: struct(queue) },
  PurgeQueue: { input: struct(queue) },
  TagQueue: { input: struct({ ...queue, Tags: tags }) },
  UntagQueue: { input: struct({ ...queue, TagKeys: list('TagKey') }) },
  ListQueueTags: { input: struct(queue), output: struct({ Tags: tags }) },
  ListDeadLetterSourceQueues: {
    input: struct({ ...queue, NextToken: S, MaxResults: I }),
    output: struct({ queueUrls, NextToken: S }),
  },
  StartMessageMoveTask: {
    input: struct({ SourceArn: S, DestinationArn: S, MaxNumberOfMessagesPerSecond: I }),
    output: struct({ TaskHandle: S }),
  },
  ListMessageMoveTasks: {
    input: struct({ SourceArn: S, MaxResults: I }),
    output: struct({
      Results: list(
        'ListMessageMoveTasksResultEntry',
        struct({
          TaskHandle: S,
          Status: S,
          SourceArn: S,
          DestinationArn: S,
          MaxNumberOfMessagesPerSecond: I,
          ApproximateNumberOfMessagesMoved: L,
          ApproximateNumberOfMessagesToMove: L,
          FailureReason: S,
          StartedTimestamp: L,
        }),
      ),
    }),
  },
  CancelMessageMoveTask: {
    input: struct({ TaskHandle: S }),
    output: struct({ ApproximateNumberOfMessagesMoved: L }),
  },
  SendMessage: { input: struct({ ...queue, ...sendEntry }), output: struct(sent) },
  SendMessageBatch: {
    input: struct({
      ...queue,
      Entries: list('SendMessageBatchRequestEntry', struct({ Id: S, ...sendEntry })),
    }),
    output: struct({
      Successful: list('SendMessageBatchResultEntry', struct({ Id: S, ...sent })),
      Failed: failed,
    }),
  },
  ReceiveMessage: {
    input: struct({
      ...queue,
      AttributeNames: list('AttributeName'),
      MessageSystemAttributeNames: list('MessageSystemAttributeName'),
      MessageAttributeNames: list('MessageAttributeName'),
      MaxNumberOfMessages: I,
      VisibilityTimeout: I,
      WaitTimeSeconds: I,
      ReceiveRequestAttemptId: S,
    }),
    output: struct({
      Messages: list(
        'Message',
        struct({
          MessageId: S,
          ReceiptHandle: S,
          MD5OfBody: S,
          Body: S,
          Attributes: map('Attribute', 'Name', 'Value'),
          MD5OfMessageAttributes: S,
          MessageAttributes: messageAttributes,
        }),
      ),
    }),
  },
  DeleteMessage: { input: struct({ ...queue, ReceiptHandle: S }) },
  DeleteMessageBatch: {
    input: struct({
      ...queue,
      Entries: list('DeleteMessageBatchRequestEntry', struct({ Id: S, ReceiptHandle: S })),
    }),
    output: struct({ Successful: list('DeleteMessageBatchResultEntry', struct({ Id: S })), Failed: failed }),
  },
  ChangeMessageVisibility: { input: struct({ ...queue, ReceiptHandle: S, VisibilityTimeout: I }) },
  ChangeMessageVisibilityBatch: {
    input: struct({
      ...queue,
      Entries: list(
        'ChangeMessageVisibilityBatchRequestEntry',
        struct({ Id: S, ReceiptHandle: S, VisibilityTimeout: I }),
      ),
    }),
    output: struct({
      Successful: list('ChangeMessageVisibilityBatchResultEntry', struct({ Id: S })),
      Failed: failed,
    }),
  },
}

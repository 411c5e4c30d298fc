/**
 * The digests of the SQS wire against the AWS SDK's own checks: the body MD5 goes through
 * `@aws-sdk/middleware-sdk-sqs`'s validation middleware with the SDK's MD5, and the
 * attribute digest matches the values AWS returns (the SDK for JavaScript does not check
 * MD5OfMessageAttributes; these vectors are the ones pinned by other SQS implementations'
 * suites as observed on AWS).
 */

import { sendMessageMiddleware } from '@aws-sdk/middleware-sdk-sqs'
import { Md5 } from '@smithy/core/checksum'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { md5OfAttributes, md5OfText } from '../../workers/queue/sqs/attributes'

async function sdkAccepts(body: string): Promise<boolean> {
  const handler = sendMessageMiddleware({ md5: Md5 } as never)(
    (async () => ({ output: { MD5OfMessageBody: md5OfText(body) }, response: {} })) as never,
    {} as never,
  )
  try {
    await handler({ input: { MessageBody: body } } as never)
    return true
  } catch {
    return false
  }
}

describe('MD5 of the SQS wire', () => {
  it('passes the SDK body validation for any text', async () => {
    expect(await sdkAccepts('héllo ✓ 😀')).toBe(true)
    await fc.assert(fc.asyncProperty(fc.string({ unit: 'grapheme', maxLength: 200 }), sdkAccepts), {
      numRuns: 100,
    })
  })

  it('computes MD5OfMessageAttributes as AWS does', () => {
    const number = (value: string) => ({ DataType: 'Number', StringValue: value })
    expect(md5OfAttributes({ timestamp: number('1493147359900') })).toBe('235c5c510d26fb653d073faed50ae77c')
    expect(md5OfAttributes({ timestamp: number('1493147359901') })).toBe('994258b45346a2cc3f9cbb611aa7af30')
    expect(md5OfAttributes({ 'SOME_Valid.attribute-Name': number('1493147359900') })).toBe(
      '36655e7e9d7c0e8479fa3f3f42247ae7',
    )
    const complex = {
      ccc: { DataType: 'String', StringValue: 'testjunk' },
      aaa: { DataType: 'Binary', BinaryValue: Buffer.from([2, 3, 4]).toString('base64') },
      zzz: { DataType: 'Number', StringValue: '0230.01' },
      öther_encodings: { DataType: 'String', StringValue: 'Tüst' },
    }
    expect(md5OfAttributes(complex)).toBe('8ae21a7957029ef04146b42aeaa18a22')
    expect(md5OfText('derp')).toBe('58fd9edd83341c29f1aebba81c31e257')
    expect(md5OfAttributes({})).toBeUndefined()
  })
})

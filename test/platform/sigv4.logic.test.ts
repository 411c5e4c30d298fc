import { describe, expect, it } from 'vitest'
import { crc32, crc32c, crc64nvme, md5 } from '../../workers/platform/checksums'
import { decodeAwsChunked } from '../../workers/platform/sigv4/chunked'
import { toHex } from '../../workers/platform/sigv4/signing'
import { type SigV4Error, verifyRequest } from '../../workers/platform/sigv4/verify'

const AWS_SUITE_SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY'
const lookup = (secret: string) => async (id: string) =>
  id === 'AKIDEXAMPLE' || id === 'AKIAIOSFODNN7EXAMPLE' ? { secret, principal: id } : undefined
const suiteNow = Date.UTC(2015, 7, 30, 12, 36, 0)

function suiteRequest(path: string, signature: string, signedHeaders = 'host;x-amz-date'): Request {
  return new Request(`https://example.amazonaws.com${path}`, {
    headers: {
      host: 'example.amazonaws.com',
      'x-amz-date': '20150830T123600Z',
      authorization: `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=${signedHeaders}, Signature=${signature}`,
    },
  })
}

const emptyBody = async () => 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

describe('SigV4 against the AWS Signature Version 4 test suite', () => {
  it('get-vanilla', async () => {
    const request = suiteRequest('/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31')
    const verified = await verifyRequest(request, {
      lookup: lookup(AWS_SUITE_SECRET),
      now: suiteNow,
      bodySha256: emptyBody,
    })
    expect(verified.principal).toBe('AKIDEXAMPLE')
  })

  it('get-vanilla-query-order-key-case', async () => {
    const request = suiteRequest(
      '/?Param2=value2&Param1=value1',
      'b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500',
    )
    await expect(
      verifyRequest(request, { lookup: lookup(AWS_SUITE_SECRET), now: suiteNow, bodySha256: emptyBody }),
    ).resolves.toMatchObject({ accessKeyId: 'AKIDEXAMPLE' })
  })

  it('rejects a changed signature, an unknown key, and a request outside the clock-skew window', async () => {
    const bad = suiteRequest('/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf30')
    const codeOf = (promise: Promise<unknown>) =>
      promise.then(
        () => 'ok',
        (error: SigV4Error) => error.code,
      )
    expect(
      await codeOf(
        verifyRequest(bad, { lookup: lookup(AWS_SUITE_SECRET), now: suiteNow, bodySha256: emptyBody }),
      ),
    ).toBe('SignatureDoesNotMatch')
    const good = () => suiteRequest('/', '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31')
    expect(
      await codeOf(
        verifyRequest(good(), { lookup: async () => undefined, now: suiteNow, bodySha256: emptyBody }),
      ),
    ).toBe('InvalidAccessKeyId')
    const late = suiteNow + 15 * 60_000 + 1000
    expect(
      await codeOf(
        verifyRequest(good(), { lookup: lookup(AWS_SUITE_SECRET), now: late, bodySha256: emptyBody }),
      ),
    ).toBe('RequestTimeTooSkewed')
    expect(
      await codeOf(
        verifyRequest(good(), {
          lookup: lookup(AWS_SUITE_SECRET),
          now: suiteNow + 14 * 60_000,
          bodySha256: emptyBody,
        }),
      ),
    ).toBe('ok')
  })
})

describe('SigV4 streaming (the S3 documentation example, 64 KiB + 1 KiB of "a")', () => {
  const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'
  const seed = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9'
  const chunkSignatures = [
    'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
    '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
    'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
  ]
  const headers = {
    host: 's3.amazonaws.com',
    'x-amz-date': '20130524T000000Z',
    'x-amz-storage-class': 'REDUCED_REDUNDANCY',
    'content-encoding': 'aws-chunked',
    'x-amz-decoded-content-length': '66560',
    'x-amz-content-sha256': 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    'content-length': '66824',
    authorization:
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,' +
      'SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,' +
      `Signature=${seed}`,
  }
  const now = Date.UTC(2013, 4, 24)

  function body(signatures: string[]): Uint8Array {
    const enc = new TextEncoder()
    const parts: Uint8Array[] = []
    for (const [size, signature] of [65536, 1024, 0].map((size, i) => [size, signatures[i]] as const)) {
      parts.push(enc.encode(`${size.toString(16)};chunk-signature=${signature}\r\n`))
      parts.push(new Uint8Array(size).fill(97))
      parts.push(enc.encode('\r\n'))
    }
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    let at = 0
    for (const part of parts) {
      out.set(part, at)
      at += part.length
    }
    return out
  }

  async function decode(signatures: string[]): Promise<number> {
    const request = new Request('https://s3.amazonaws.com/examplebucket/chunkObject.txt', {
      method: 'PUT',
      headers,
    })
    const verified = await verifyRequest(request, { lookup: lookup(secret), now })
    expect(verified.payload).toEqual({ kind: 'streaming', signed: true, trailer: false })
    const encoded = body(signatures)
    expect(encoded.length).toBe(66824)
    const { body: decoded } = decodeAwsChunked(new Response(encoded).body as ReadableStream<Uint8Array>, {
      verified,
      signed: true,
      decodedLength: 66560,
    })
    return (await new Response(decoded).arrayBuffer()).byteLength
  }

  it('verifies the seed signature and every chunk signature', async () => {
    expect(await decode(chunkSignatures)).toBe(66560)
  })

  it('fails the stream when a chunk signature is wrong', async () => {
    const wrong = [chunkSignatures[0] as string, chunkSignatures[2] as string, chunkSignatures[2] as string]
    await expect(decode(wrong)).rejects.toMatchObject({ code: 'SignatureDoesNotMatch' })
  })
})

describe('checksums', () => {
  const check = new TextEncoder().encode('123456789')
  const of = (
    factory: () => { update(b: Uint8Array): void; digest(): Uint8Array },
    bytes: Uint8Array,
    split = 3,
  ) => {
    const sum = factory()
    for (let i = 0; i < bytes.length; i += split) sum.update(bytes.subarray(i, i + split))
    return toHex(sum.digest())
  }

  it('match the catalogued check values, fed in any split', () => {
    expect(of(crc32, check)).toBe('cbf43926')
    expect(of(crc32c, check)).toBe('e3069283')
    expect(of(crc64nvme, check)).toBe('ae8b14860a799888')
    expect(of(crc32, check, 1)).toBe('cbf43926')
    expect(of(crc32c, check, 9)).toBe('e3069283')
  })

  it('MD5 matches RFC 1321', () => {
    const md5Hex = (text: string) => toHex(md5(new TextEncoder().encode(text)))
    expect(md5Hex('')).toBe('d41d8cd98f00b204e9800998ecf8427e')
    expect(md5Hex('abc')).toBe('900150983cd24fb0d6963f7d28e17f72')
    expect(md5Hex('a'.repeat(1000))).toBe('cabe45dcc9ae5b66ba86600cca6b8ba8')
  })
})

/**
 * Signing S3 requests inside workerd with the AWS SDK's own signer (`@smithy/signature-v4`),
 * over WebCrypto, and calling the Worker through `SELF`.
 */
import { SELF } from 'cloudflare:test'
import { SignatureV4 } from '@smithy/signature-v4'
import { call, tokenFor, uniqueTenant } from '../helpers'

/** The SDK's hash interface over WebCrypto: SHA-256, or HMAC-SHA256 with a secret. */
class WebSha256 {
  private readonly chunks: Uint8Array[] = []
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {}
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.chunks.push(toBytes(data))
  }
  async digest(): Promise<Uint8Array> {
    const data = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0))
    let at = 0
    for (const chunk of this.chunks) {
      data.set(chunk, at)
      at += chunk.length
    }
    if (this.secret === undefined) return new Uint8Array(await crypto.subtle.digest('SHA-256', data))
    const key = await crypto.subtle.importKey(
      'raw',
      toBytes(this.secret) as BufferSource,
      { name: 'HMAC', hash: 'SHA-256' },
      false,
      ['sign'],
    )
    return new Uint8Array(await crypto.subtle.sign('HMAC', key, data))
  }
  reset(): void {
    this.chunks.length = 0
  }
}

function toBytes(data: string | ArrayBuffer | ArrayBufferView): Uint8Array {
  if (typeof data === 'string') return new TextEncoder().encode(data)
  if (data instanceof ArrayBuffer) return new Uint8Array(data)
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

export interface Keys {
  accessKeyId: string
  secretAccessKey: string
}

export function signer(keys: Keys, service = 's3'): SignatureV4 {
  return new SignatureV4({
    credentials: keys,
    region: 'auto',
    service,
    sha256: WebSha256 as never,
    uriEscapePath: service !== 's3',
  })
}

export interface SignedCall {
  method?: string
  headers?: Record<string, string>
  body?: string | Uint8Array
  query?: Record<string, string>
  /** The payload hash to sign (default: the body's SHA-256, as the SDK sends over http). */
  payload?: string
  signingDate?: Date
}

/** Signs a request with the SDK's signer and sends it to the Worker. */
export async function s3(keys: Keys, path: string, options: SignedCall = {}): Promise<Response> {
  const body = typeof options.body === 'string' ? new TextEncoder().encode(options.body) : options.body
  const payload =
    options.payload ??
    (await crypto.subtle
      .digest('SHA-256', (body ?? new Uint8Array(0)) as BufferSource)
      .then((d) => Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, '0')).join('')))
  const headers: Record<string, string> = {
    host: 'edge.test',
    'x-amz-content-sha256': payload as string,
    ...options.headers,
  }
  if (body) headers['content-length'] = String(body.length)
  const signed = await signer(keys).sign(
    {
      method: options.method ?? 'GET',
      protocol: 'http:',
      hostname: 'edge.test',
      path: `/s3${path}`,
      query: options.query ?? {},
      headers,
    },
    options.signingDate ? { signingDate: options.signingDate } : {},
  )
  const query = new URLSearchParams(options.query ?? {}).toString()
  return SELF.fetch(`http://edge.test/s3${path}${query ? `?${query}` : ''}`, {
    method: signed.method,
    headers: signed.headers,
    ...(body ? { body } : {}),
  })
}

/** A fresh tenant with a bearer token and a read-write access key. */
export async function tenantWithKey(
  grant: Record<string, unknown> = {},
): Promise<{ tenant: string; token: string; keys: Keys }> {
  const tenant = uniqueTenant('blob')
  const token = await tokenFor(tenant, ['blob:read', 'blob:write'])
  const created = await call<Keys>('/v1/blob/keys', { method: 'POST', token, body: grant })
  if (created.status !== 201) throw new Error(`key creation failed: ${created.status}`)
  return { tenant, token, keys: created.body }
}

export function errorCode(xml: string): string | undefined {
  return /<Code>([^<]+)<\/Code>/.exec(xml)?.[1]
}

export function bucketName(): string {
  return `b-${crypto.randomUUID().slice(0, 12)}`
}

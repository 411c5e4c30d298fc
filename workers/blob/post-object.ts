/**
 * Browser form uploads (S3 POST Object with a presigned policy): the form's policy, signed
 * with SigV4 (`x-amz-signature` = HMAC of the base64 policy under the key's signing key),
 * lists conditions every form field must meet — exact values, `starts-with` prefixes (the
 * key, the content type), `content-length-range` on the file — and an expiration.
 *
 * Guarantees: the upload is stored only if the signature matches, the policy has not expired,
 * every field is covered by a condition (except the signature, the policy and the file) and
 * every condition holds, and the key may write to the bucket. Costs: the form is read into
 * memory (at most `MAX_FORM_BYTES`); use multipart uploads for larger files.
 */

import { base64ToBytes } from '../platform/encoding'
import type { Env } from '../platform/env'
import { objectBucket } from '../platform/ports'
import { keyAllows, lookupAccessKey } from '../platform/sigv4/keys'
import { parseAmzDate, sameSignature, signatureOf, signingKey } from '../platform/sigv4/signing'
import { attributesFrom, bucketStub, newStorageKey } from './s3-context'
import { S3Error } from './s3-errors'
import { ingest } from './upload'
import { el, xmlDocument } from './xml'

export const MAX_FORM_BYTES = 100 * 1024 * 1024

type Condition = ['eq' | 'starts-with', string, string] | ['content-length-range', number, number]

function denied(message: string): S3Error {
  return new S3Error('AccessDenied', message)
}

function parsePolicy(base64: string): { expiration: number; conditions: Condition[] } {
  const bytes = base64ToBytes(base64)
  let policy: { expiration?: unknown; conditions?: unknown }
  try {
    policy = JSON.parse(new TextDecoder().decode(bytes ?? new Uint8Array(0)))
  } catch {
    throw new S3Error('InvalidArgument', 'Invalid Policy: Invalid JSON.')
  }
  const expiration = typeof policy.expiration === 'string' ? Date.parse(policy.expiration) : Number.NaN
  if (Number.isNaN(expiration) || !Array.isArray(policy.conditions))
    throw new S3Error('InvalidArgument', 'Invalid Policy: expiration and conditions are required.')
  const conditions = policy.conditions.map((item: unknown): Condition => {
    if (Array.isArray(item) && item[0] === 'content-length-range')
      return ['content-length-range', Number(item[1]), Number(item[2])]
    if (
      Array.isArray(item) &&
      (item[0] === 'eq' || item[0] === 'starts-with') &&
      typeof item[1] === 'string'
    ) {
      return [item[0], item[1].replace(/^\$/, '').toLowerCase(), String(item[2])]
    }
    if (item && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length === 1) {
      const [name, value] = Object.entries(item)[0] as [string, unknown]
      return ['eq', name.toLowerCase(), String(value)]
    }
    throw new S3Error('InvalidArgument', 'Invalid Policy: Invalid condition.')
  })
  return { expiration, conditions }
}

const EXEMPT = new Set(['x-amz-signature', 'policy', 'file'])

export async function postObject(
  request: Request,
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  bucket: string,
  tenant: string | undefined,
): Promise<Response> {
  const length = Number(request.headers.get('content-length') ?? Number.NaN)
  if (!(length <= MAX_FORM_BYTES))
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      MaxSizeAllowed: String(MAX_FORM_BYTES),
    })
  if (!tenant)
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket })
  let form: FormData
  try {
    form = await request.formData()
  } catch {
    throw new S3Error(
      'MalformedPOSTRequest',
      'The body of your POST request is not well-formed multipart/form-data.',
    )
  }
  const fields = new Map<string, string>()
  for (const [name, value] of form) if (typeof value === 'string') fields.set(name.toLowerCase(), value)
  const file = form.get('file')
  if (!file || typeof file === 'string')
    throw new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.')
  const policyText = fields.get('policy')
  const signature = fields.get('x-amz-signature')
  const credential = fields.get('x-amz-credential') ?? ''
  const amzDate = fields.get('x-amz-date') ?? ''
  if (!policyText || !signature || fields.get('x-amz-algorithm') !== 'AWS4-HMAC-SHA256')
    throw denied('Bucket POST must contain a policy, x-amz-algorithm AWS4-HMAC-SHA256 and x-amz-signature.')
  const [accessKeyId = '', date = '', region = '', service = ''] = credential.split('/')
  const found = await lookupAccessKey(env, accessKeyId)
  if (!found)
    throw new S3Error(
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    )
  if (amzDate.slice(0, 8) !== date || Number.isNaN(parseAmzDate(amzDate)))
    throw denied('x-amz-date does not match the credential.')
  const key = await signingKey(found.secret, { date, region, service })
  if (!sameSignature(await signatureOf(key, policyText), signature)) {
    throw new S3Error(
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    )
  }
  const principal = found.principal
  if (principal.tenant !== tenant || !keyAllows(principal, 'buckets', bucket, true))
    throw denied('Access Denied')
  const policy = parsePolicy(policyText)
  if (Date.now() > policy.expiration) throw denied('Invalid according to Policy: Policy expired.')
  const objectKey = (fields.get('key') ?? '').replace(/\$\{filename\}/g, file.name)
  if (objectKey === '') throw new S3Error('InvalidArgument', "Bucket POST must contain a field named 'key'.")
  fields.set('key', objectKey)
  fields.set('bucket', bucket)
  const covered = new Set(
    policy.conditions.map((condition) => condition[1]).filter((name) => typeof name === 'string'),
  )
  for (const name of fields.keys()) {
    if (!EXEMPT.has(name) && name !== 'bucket' && !name.startsWith('x-ignore-') && !covered.has(name)) {
      throw denied(`Invalid according to Policy: Extra input fields: ${name}`)
    }
  }
  for (const condition of policy.conditions) {
    if (condition[0] === 'content-length-range') {
      if (file.size < condition[1] || file.size > condition[2]) {
        throw new S3Error(
          file.size > condition[2] ? 'EntityTooLarge' : 'EntityTooSmall',
          'Your proposed upload is outside the content-length-range of the policy.',
        )
      }
      continue
    }
    const value = fields.get(condition[1]) ?? ''
    const holds = condition[0] === 'eq' ? value === condition[2] : value.startsWith(condition[2])
    if (!holds)
      throw denied(
        `Invalid according to Policy: Policy Condition failed: ["${condition[0]}", "$${condition[1]}", "${condition[2]}"]`,
      )
  }
  const headers = new Headers()
  for (const [name, value] of fields) headers.set(name, value)
  if (!headers.has('content-type')) headers.set('content-type', file.type || 'application/octet-stream')
  const store = objectBucket(env)
  const ingested = await ingest(store, newStorageKey(tenant, bucket), {
    body: file.stream(),
    length: file.size,
    trailers: Promise.resolve(new Map()),
    algorithm: undefined,
    headers,
  })
  const etag = `"${ingested.md5}"`
  // From here on the bucket owns the uploaded copy (it may already be the tenant's blob).
  const result = await bucketStub(env, tenant, bucket).putObject(
    objectKey,
    ingested,
    etag,
    attributesFrom(headers),
  )
  if (result.redundant.length > 0) waitUntil(store.delete(result.redundant))
  const responseHeaders: Record<string, string> = {
    etag,
    location: `/${bucket}/${encodeURIComponent(objectKey)}`,
  }
  const redirect = fields.get('success_action_redirect')
  if (redirect) {
    const target = new URL(redirect)
    target.searchParams.set('bucket', bucket)
    target.searchParams.set('key', objectKey)
    target.searchParams.set('etag', etag)
    return new Response(null, { status: 303, headers: { ...responseHeaders, location: target.toString() } })
  }
  const status = fields.get('success_action_status')
  if (status === '201') {
    const body = xmlDocument(
      el(
        'PostResponse',
        el('Location', responseHeaders.location),
        el('Bucket', bucket),
        el('Key', objectKey),
        el('ETag', etag),
      ),
      null,
    )
    return new Response(body, {
      status: 201,
      headers: { ...responseHeaders, 'content-type': 'application/xml' },
    })
  }
  return new Response(null, { status: status === '200' ? 200 : 204, headers: responseHeaders })
}

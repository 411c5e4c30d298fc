/**
 * Browser form uploads (S3 POST Object with a presigned policy): the form's policy, signed
 * with SigV4 (`x-amz-signature` = HMAC of the base64 policy under the key's signing key),
 * lists conditions every form field must meet — exact values, `starts-with` prefixes (the
 * key, the content type), `content-length-range` on the file — and an expiration.
 *
 * Guarantees: the upload is stored only if the signature matches, the policy has not expired,
 * every field is covered by a condition (except the signature, the policy and the file) and
 * every condition holds, and the key may write to the bucket. The form streams
 * (form-stream.ts): its fields are read and checked before any byte of the file is stored,
 * and the file is piped to object storage. Its length is known before it streams (the
 * request's Content-Length less the fields and the closing boundary: the file must be the
 * last field, as S3 requires), so a file outside the policy's `content-length-range` (or over
 * S3's 5 GiB single-upload limit) is refused before anything is stored; while it streams, a
 * body longer or shorter than announced aborts the upload and stores nothing.
 * Costs: memory for the fields (at most 1 MiB) plus one chunk of the file.
 */

import { base64ToBytes } from '../platform/encoding'
import type { Env } from '../platform/env'
import { objectBucket } from '../platform/ports'
import { keyAllows, lookupAccessKey } from '../platform/sigv4/keys'
import { parseAmzDate, sameSignature, signatureOf, signingKey } from '../platform/sigv4/signing'
import { boundaryOf, MAX_FIELDS_BYTES, MalformedForm, type StreamedForm, streamForm } from './form-stream'
import { attributesFrom, bucketStub, newStorageKey } from './s3-context'
import { S3Error } from './s3-errors'
import { ingest, MAX_OBJECT_BYTES } from './upload'
import { el, xmlDocument } from './xml'

/** The largest form body: a file of S3's single-upload limit and the fields around it. */
export const MAX_FORM_BYTES = MAX_OBJECT_BYTES + MAX_FIELDS_BYTES + 64 * 1024

/** Files up to this size are read whole before they are checked and stored. */
const SMALL_FILE_BYTES = 1024 * 1024

const malformed = (message = 'The body of your POST request is not well-formed multipart/form-data.') =>
  new S3Error('MalformedPOSTRequest', message)

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
  const lengthText = request.headers.get('content-length')
  if (lengthText === null || !/^\d{1,16}$/.test(lengthText))
    throw new S3Error('MissingContentLength', 'You must provide the Content-Length HTTP header.')
  const length = Number(lengthText)
  if (length > MAX_FORM_BYTES)
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      MaxSizeAllowed: String(MAX_OBJECT_BYTES),
    })
  if (!tenant)
    throw new S3Error('NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket })
  const boundary = boundaryOf(request.headers.get('content-type'))
  if (!boundary || !request.body) throw malformed()
  const limits = { maxFileBytes: MAX_OBJECT_BYTES }
  let form: StreamedForm
  try {
    form = await streamForm(request.body, boundary, limits)
  } catch (error) {
    if (error instanceof MalformedForm) throw malformed()
    throw error
  }
  const fields = new Map<string, string>()
  for (const [name, value] of form.fields) fields.set(name.toLowerCase(), value)
  const file = form.file
  if (!file) throw new S3Error('InvalidArgument', 'POST requires exactly one file upload per request.')
  // A small file is read whole (its size is then exact whatever the closing boundary looks
  // like); a larger one runs to the closing boundary line `--boundary--` + CRLF that ends the
  // body, as browsers, curl and fetch send it.
  let fileBody: ReadableStream<Uint8Array> | Uint8Array = file.body
  let fileSize = length - form.offset - `\r\n--${boundary}--\r\n`.length
  if (length - form.offset <= SMALL_FILE_BYTES) {
    try {
      fileBody = new Uint8Array(await new Response(file.body).arrayBuffer())
    } catch {
      throw malformed()
    }
    fileSize = fileBody.length
  }
  if (fileSize < 0) throw malformed()
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
  const objectKey = (fields.get('key') ?? '').replace(/\$\{filename\}/g, file.filename)
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
      if (fileSize < condition[1] || fileSize > condition[2]) {
        throw new S3Error(
          fileSize > condition[2] ? 'EntityTooLarge' : 'EntityTooSmall',
          'Your proposed upload is outside the content-length-range of the policy.',
        )
      }
      limits.maxFileBytes = Math.min(limits.maxFileBytes, condition[2])
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
  if (fileSize > MAX_OBJECT_BYTES)
    throw new S3Error('EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
      ProposedSize: String(fileSize),
      MaxSizeAllowed: String(MAX_OBJECT_BYTES),
    })
  if (!headers.has('content-type'))
    headers.set('content-type', file.contentType || 'application/octet-stream')
  const store = objectBucket(env)
  const ingested = await ingest(store, newStorageKey(tenant, bucket), {
    body: fileBody instanceof Uint8Array ? new Response(fileBody).body : fileBody,
    length: fileSize,
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

/**
 * The S3 wire: authenticates a request (SigV4 header or presigned URL, or a browser form's
 * policy), checks the access key's grant, dispatches on method, path and sub-resource, and
 * answers S3's XML, including S3's error XML for every failure. Bucket CORS rules answer
 * preflights and decorate responses to cross-origin requests.
 */
import type { Env } from '../platform/env'
import { asAppError } from '../platform/errors'
import { keyAllows, lookupAccessKey } from '../platform/sigv4/keys'
import { SigV4Error, verifyRequest } from '../platform/sigv4/verify'
import { corsHeaders, matchCors } from './cors'
import { bucketOwner } from './owners'
import { postObject } from './post-object'
import { getBucketAcl, putBucketAcl } from './s3-acl'
import {
  bucketLocation,
  createBucket,
  deleteBucket,
  deleteObjects,
  headBucket,
  listBuckets,
  listObjects,
  listVersions,
} from './s3-buckets'
import { bucketStub, type S3Context } from './s3-context'
import { asS3Error, S3Error, type S3ErrorCode, s3ErrorResponse } from './s3-errors'
import {
  abortMultipart,
  completeMultipart,
  createMultipart,
  listParts,
  listUploads,
  uploadPart,
} from './s3-multipart'
import { copyObject, deleteObject, getObject, getTagging, putObject, putTagging } from './s3-objects'
import {
  deleteSetting,
  getCors,
  getLifecycle,
  getVersioning,
  putCors,
  putLifecycle,
  putVersioning,
} from './s3-settings'

export interface S3Target {
  bucket: string | undefined
  key: string | undefined
}

type Handler = (c: S3Context) => Promise<Response>

const SIGV4_CODES: Record<SigV4Error['code'], S3ErrorCode> = {
  MissingSecurityHeader: 'AccessDenied',
  AuthorizationHeaderMalformed: 'AuthorizationHeaderMalformed',
  AuthorizationQueryParametersError: 'AuthorizationQueryParametersError',
  InvalidAccessKeyId: 'InvalidAccessKeyId',
  SignatureDoesNotMatch: 'SignatureDoesNotMatch',
  RequestTimeTooSkewed: 'RequestTimeTooSkewed',
  ExpiredToken: 'AccessDenied',
  XAmzContentSHA256Mismatch: 'XAmzContentSHA256Mismatch',
  IncompleteBody: 'IncompleteBody',
  InvalidChunk: 'InvalidRequest',
}

function s3Error(error: unknown): S3Error {
  const s3 = asS3Error(error)
  if (s3) return s3
  if (error instanceof SigV4Error || (error instanceof Error && error.name === 'SigV4Error')) {
    const code = (error as SigV4Error).code
    return new S3Error(SIGV4_CODES[code] ?? 'AccessDenied', error.message)
  }
  const app = asAppError(error)
  if (app.code === 'unavailable') return new S3Error('ServiceUnavailable', 'Please reduce your request rate.')
  if (app.code === 'internal')
    console.error(JSON.stringify({ level: 'error', block: 'blob', error: String(error) }))
  return new S3Error('InternalError', 'We encountered an internal error. Please try again.')
}

/** Which operation a request is: the handler and whether it writes. */
function route(
  request: Request,
  url: URL,
  target: S3Target,
): { handler: Handler; write: boolean } | undefined {
  const q = url.searchParams
  const m = request.method
  const read = (handler: Handler) => ({ handler, write: false })
  const write = (handler: Handler) => ({ handler, write: true })
  if (target.bucket === undefined) return m === 'GET' ? read(listBuckets) : undefined
  if (target.key === undefined) {
    if (m === 'GET') {
      if (q.has('location')) return read(bucketLocation)
      if (q.has('acl')) return read(getBucketAcl)
      if (q.has('versioning')) return read(getVersioning)
      if (q.has('cors')) return read(getCors)
      if (q.has('lifecycle')) return read(getLifecycle)
      if (q.has('uploads')) return read(listUploads)
      if (q.has('versions')) return read(listVersions)
      return read((c) => listObjects(c, q.get('list-type') === '2'))
    }
    if (m === 'HEAD') return read(headBucket)
    if (m === 'PUT') {
      if (q.has('versioning')) return write(putVersioning)
      if (q.has('acl')) return write(putBucketAcl)
      if (q.has('cors')) return write(putCors)
      if (q.has('lifecycle')) return write(putLifecycle)
      return write(createBucket)
    }
    if (m === 'DELETE') {
      if (q.has('cors')) return write((c) => deleteSetting(c, 'cors'))
      if (q.has('lifecycle')) return write((c) => deleteSetting(c, 'lifecycle'))
      return write(deleteBucket)
    }
    if (m === 'POST' && q.has('delete')) return write(deleteObjects)
    return undefined
  }
  const upload = q.has('uploadId')
  if (m === 'GET')
    return read(upload ? listParts : q.has('tagging') ? getTagging : (c) => getObject(c, false))
  if (m === 'HEAD') return read((c) => getObject(c, true))
  if (m === 'PUT') {
    if (upload && q.has('partNumber')) return write(uploadPart)
    if (q.has('tagging')) return write((c) => putTagging(c, false))
    if (request.headers.has('x-amz-copy-source')) return write(copyObject)
    return write(putObject)
  }
  if (m === 'DELETE')
    return write(upload ? abortMultipart : q.has('tagging') ? (c) => putTagging(c, true) : deleteObject)
  if (m === 'POST') {
    if (q.has('uploads')) return write(createMultipart)
    if (upload) return write(completeMultipart)
  }
  return undefined
}

/** The bucket's CORS headers for a cross-origin request (none without a matching rule). */
async function withCors(
  env: Env,
  request: Request,
  target: S3Target,
  tenant: string | undefined,
  response: Response,
): Promise<Response> {
  const origin = request.headers.get('origin')
  if (!origin || !target.bucket || !tenant) return response
  const rules = await bucketStub(env, tenant, target.bucket)
    .describe()
    .then(
      (info) => info.cors,
      () => undefined,
    )
  const rule = matchCors(rules, origin, request.method)
  if (!rule) return response
  const decorated = new Response(response.body, response)
  for (const [name, value] of Object.entries(corsHeaders(rule, origin, undefined)))
    decorated.headers.set(name, value)
  return decorated
}

async function preflight(env: Env, request: Request, target: S3Target): Promise<Response> {
  const origin = request.headers.get('origin') ?? ''
  const method = request.headers.get('access-control-request-method') ?? ''
  const headers = (request.headers.get('access-control-request-headers') ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean)
  const tenant = target.bucket ? await bucketOwner(env, target.bucket) : undefined
  const rules =
    tenant && target.bucket
      ? await bucketStub(env, tenant, target.bucket)
          .describe()
          .then(
            (info) => info.cors,
            () => undefined,
          )
      : undefined
  const rule = matchCors(rules, origin, method, headers)
  if (!rule)
    throw new S3Error(
      'AccessDenied',
      "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
    )
  return new Response(null, { status: 200, headers: corsHeaders(rule, origin, { method, headers }) })
}

export async function handleS3(
  request: Request,
  env: Env,
  waitUntil: (p: Promise<unknown>) => void,
  target: S3Target,
): Promise<Response> {
  const requestId = crypto.randomUUID().replace(/-/g, '').slice(0, 16).toUpperCase()
  const url = new URL(request.url)
  const resource = `/${target.bucket ?? ''}${target.key !== undefined ? `/${target.key}` : ''}`
  let tenant: string | undefined
  try {
    if (request.method === 'OPTIONS') return await preflight(env, request, target)
    if (target.key !== undefined && new TextEncoder().encode(target.key).length > 1024) {
      throw new S3Error('KeyTooLongError', 'Your key is too long')
    }
    const isForm =
      request.method === 'POST' &&
      target.key === undefined &&
      (request.headers.get('content-type') ?? '').startsWith('multipart/form-data')
    if (isForm && target.bucket) {
      tenant = await bucketOwner(env, target.bucket)
      return await withCors(
        env,
        request,
        target,
        tenant,
        await postObject(request, env, waitUntil, target.bucket, tenant),
      )
    }
    const now = Date.now()
    const verified = await verifyRequest(request, { lookup: (id) => lookupAccessKey(env, id, now), now })
    if (verified.scope.service !== 's3')
      throw new S3Error(
        'AuthorizationHeaderMalformed',
        `The credential should be scoped to a valid service: "s3", not "${verified.scope.service}".`,
      )
    const principal = verified.principal
    tenant = principal.tenant
    const operation = route(request, url, target)
    if (!operation)
      throw new S3Error('MethodNotAllowed', 'The specified method is not allowed against this resource.')
    if (target.bucket !== undefined && !keyAllows(principal, 'buckets', target.bucket, operation.write)) {
      throw new S3Error('AccessDenied', 'Access Denied')
    }
    const c: S3Context = {
      request,
      env,
      waitUntil,
      url,
      tenant,
      principal,
      verified,
      bucket: target.bucket,
      key: target.key,
      requestId,
      now,
    }
    const response = await operation.handler(c)
    response.headers.set('x-amz-request-id', requestId)
    return await withCors(env, request, target, tenant, response)
  } catch (error) {
    const failure = s3Error(error)
    if (failure.code === 'RequestTimeTooSkewed') failure.extra.ServerTime = new Date().toISOString()
    return withCors(
      env,
      request,
      target,
      tenant,
      s3ErrorResponse(failure, resource, requestId, request.method),
    )
  }
}

/** `/s3/<bucket>/<key…>` → bucket and key (decoded), for path-style requests. */
export function pathStyleTarget(pathname: string, mount = '/s3'): S3Target {
  const rest = pathname.slice(mount.length).replace(/^\//, '')
  if (rest === '') return { bucket: undefined, key: undefined }
  const slash = rest.indexOf('/')
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text)
    } catch {
      return text
    }
  }
  if (slash < 0) return { bucket: decode(rest), key: undefined }
  const key = decode(rest.slice(slash + 1))
  return { bucket: decode(rest.slice(0, slash)), key: key === '' ? undefined : key }
}

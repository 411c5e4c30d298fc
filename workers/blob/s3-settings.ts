/**
 * Bucket settings over the S3 wire: versioning (Enabled / Suspended), CORS rules and
 * lifecycle rules, each parsed from S3's XML, bounded, stored in the bucket object and
 * returned in the same XML shape.
 */
import type { CorsRule } from './cors'
import type { LifecycleRule } from './lifecycle'
import { bucketStub, requireBucket, type S3Context, xmlResponse } from './s3-context'
import { S3Error } from './s3-errors'
import { child, childrenNamed, el, type ParsedElement, parseXml, textOf } from './xml'

const MAX_SETTINGS_BYTES = 64 * 1024

const malformed = () =>
  new S3Error(
    'MalformedXML',
    'The XML you provided was not well-formed or did not validate against our published schema.',
  )

async function document(c: S3Context, root: string): Promise<ParsedElement> {
  const text = await c.request.text()
  if (text.length > MAX_SETTINGS_BYTES) throw malformed()
  const doc = parseXml(text)
  if (!doc || doc.name !== root) throw malformed()
  return doc
}

export async function getVersioning(c: S3Context): Promise<Response> {
  const info = await bucketStub(c.env, c.tenant, requireBucket(c)).describe()
  return xmlResponse(
    el(
      'VersioningConfiguration',
      info.versioning === 'Unversioned' ? undefined : el('Status', info.versioning),
    ),
  )
}

export async function putVersioning(c: S3Context): Promise<Response> {
  const status = textOf(await document(c, 'VersioningConfiguration'), 'Status')
  if (status !== 'Enabled' && status !== 'Suspended') throw malformed()
  await bucketStub(c.env, c.tenant, requireBucket(c)).setSetting('versioning', status)
  return new Response(null, { status: 200 })
}

function parseCorsRule(rule: ParsedElement): CorsRule {
  const texts = (name: string) => childrenNamed(rule, name).map((e) => e.text.trim())
  const methods = texts('AllowedMethod')
  const origins = texts('AllowedOrigin')
  if (
    methods.length === 0 ||
    origins.length === 0 ||
    methods.some((m) => !['GET', 'PUT', 'POST', 'DELETE', 'HEAD'].includes(m))
  )
    throw malformed()
  const maxAge = textOf(rule, 'MaxAgeSeconds')
  return {
    id: textOf(rule, 'ID'),
    allowedMethods: methods,
    allowedOrigins: origins,
    allowedHeaders: texts('AllowedHeader'),
    exposeHeaders: texts('ExposeHeader'),
    maxAgeSeconds: maxAge !== undefined && /^\d{1,9}$/.test(maxAge) ? Number(maxAge) : undefined,
  }
}

export async function putCors(c: S3Context): Promise<Response> {
  const rules = childrenNamed(await document(c, 'CORSConfiguration'), 'CORSRule')
  if (rules.length === 0 || rules.length > 100) throw malformed()
  await bucketStub(c.env, c.tenant, requireBucket(c)).setSetting(
    'cors',
    JSON.stringify(rules.map(parseCorsRule)),
  )
  return new Response(null, { status: 200 })
}

export async function getCors(c: S3Context): Promise<Response> {
  const rules = (await bucketStub(c.env, c.tenant, requireBucket(c)).describe()).cors
  if (!rules)
    throw new S3Error('NoSuchCORSConfiguration', 'The CORS configuration does not exist', {
      BucketName: c.bucket ?? '',
    })
  return xmlResponse(
    el(
      'CORSConfiguration',
      rules.map((rule) =>
        el(
          'CORSRule',
          rule.id ? el('ID', rule.id) : undefined,
          rule.allowedHeaders.map((h) => el('AllowedHeader', h)),
          rule.allowedMethods.map((m) => el('AllowedMethod', m)),
          rule.allowedOrigins.map((o) => el('AllowedOrigin', o)),
          rule.exposeHeaders.map((h) => el('ExposeHeader', h)),
          rule.maxAgeSeconds !== undefined ? el('MaxAgeSeconds', rule.maxAgeSeconds) : undefined,
        ),
      ),
    ),
  )
}

export async function deleteSetting(c: S3Context, name: 'cors' | 'lifecycle'): Promise<Response> {
  await bucketStub(c.env, c.tenant, requireBucket(c)).setSetting(name, undefined)
  return new Response(null, { status: 204 })
}

function days(element: ParsedElement | undefined, name: string): number | undefined {
  const text = textOf(element, name)
  if (text === undefined) return undefined
  if (!/^\d{1,5}$/.test(text) || Number(text) < 1) throw malformed()
  return Number(text)
}

export async function putLifecycle(c: S3Context): Promise<Response> {
  const rules = childrenNamed(await document(c, 'LifecycleConfiguration'), 'Rule')
  if (rules.length === 0 || rules.length > 1000) throw malformed()
  const parsed: LifecycleRule[] = rules.map((rule) => {
    const filter = child(rule, 'Filter')
    const prefix =
      textOf(filter, 'Prefix') ?? textOf(child(filter, 'And'), 'Prefix') ?? textOf(rule, 'Prefix') ?? ''
    const status = textOf(rule, 'Status')
    if (status !== 'Enabled' && status !== 'Disabled') throw malformed()
    return {
      id: textOf(rule, 'ID') ?? crypto.randomUUID(),
      prefix,
      enabled: status === 'Enabled',
      expirationDays: days(child(rule, 'Expiration'), 'Days'),
      noncurrentDays: days(child(rule, 'NoncurrentVersionExpiration'), 'NoncurrentDays'),
      abortIncompleteDays: days(child(rule, 'AbortIncompleteMultipartUpload'), 'DaysAfterInitiation'),
    }
  })
  await bucketStub(c.env, c.tenant, requireBucket(c)).setSetting('lifecycle', JSON.stringify(parsed))
  return new Response(null, { status: 200 })
}

export async function getLifecycle(c: S3Context): Promise<Response> {
  const rules = (await bucketStub(c.env, c.tenant, requireBucket(c)).describe()).lifecycle
  if (!rules)
    throw new S3Error('NoSuchLifecycleConfiguration', 'The lifecycle configuration does not exist', {
      BucketName: c.bucket ?? '',
    })
  return xmlResponse(
    el(
      'LifecycleConfiguration',
      rules.map((rule) =>
        el(
          'Rule',
          el('ID', rule.id),
          el('Filter', el('Prefix', rule.prefix)),
          el('Status', rule.enabled ? 'Enabled' : 'Disabled'),
          rule.expirationDays !== undefined ? el('Expiration', el('Days', rule.expirationDays)) : undefined,
          rule.noncurrentDays !== undefined
            ? el('NoncurrentVersionExpiration', el('NoncurrentDays', rule.noncurrentDays))
            : undefined,
          rule.abortIncompleteDays !== undefined
            ? el('AbortIncompleteMultipartUpload', el('DaysAfterInitiation', rule.abortIncompleteDays))
            : undefined,
        ),
      ),
    ),
  )
}

/**
 * GetBucketAcl and PutBucketAcl over the S3 wire, and the canned ACL of CreateBucket
 * (`x-amz-acl`), for the `private` / `public-read` subset (acl.ts). A public-read bucket's
 * objects can be delivered anonymously through a CDN site (delivery.ts).
 */
import { aclDocument, aclFromPolicy, type BucketAcl, cannedAcl } from './acl'
import { bucketStub, requireBucket, type S3Context } from './s3-context'
import { S3Error } from './s3-errors'
import { parseXml } from './xml'

const MAX_POLICY_BYTES = 64 * 1024

export async function getBucketAcl(c: S3Context): Promise<Response> {
  const acl = await bucketStub(c.env, c.tenant, requireBucket(c)).acl()
  return new Response(aclDocument(c.tenant, acl), { headers: { 'content-type': 'application/xml' } })
}

export async function putBucketAcl(c: S3Context): Promise<Response> {
  const bucket = requireBucket(c)
  let acl: BucketAcl | undefined = cannedAcl(c.request.headers.get('x-amz-acl'))
  if (acl === undefined) {
    const text = await c.request.text()
    const doc = text.length <= MAX_POLICY_BYTES ? parseXml(text) : undefined
    if (doc?.name !== 'AccessControlPolicy')
      throw new S3Error(
        'MalformedXML',
        'The XML you provided was not well-formed or did not validate against our published schema.',
      )
    acl = aclFromPolicy(doc)
  }
  await bucketStub(c.env, c.tenant, bucket).setSetting('acl', acl === 'private' ? undefined : acl)
  return new Response(null, { status: 200 })
}

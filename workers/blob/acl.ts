/**
 * Bucket ACLs, the canned subset the platform implements: `private` (the owner only, the
 * default) and `public-read` (anyone may read objects anonymously, which is what lets a
 * CDN site deliver them). Parsed from `x-amz-acl` or from an `AccessControlPolicy`
 * document (public-read = a READ grant to the AllUsers group), and rendered as S3's
 * `AccessControlPolicy`. Pure; linear in the document.
 */
import { S3Error } from './s3-errors'
import { childrenNamed, escapeXml, type ParsedElement, textOf } from './xml'

export type BucketAcl = 'private' | 'public-read'

export const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers'

const unsupported = (what: string) =>
  new S3Error('NotImplemented', `${what} is not supported; use private or public-read.`)

/** The canned ACL an `x-amz-acl` header names (undefined when absent). */
export function cannedAcl(header: string | null): BucketAcl | undefined {
  if (header === null) return undefined
  const value = header.trim()
  if (value === 'private' || value === 'public-read') return value
  if (
    [
      'public-read-write',
      'authenticated-read',
      'aws-exec-read',
      'bucket-owner-read',
      'bucket-owner-full-control',
      'log-delivery-write',
    ].includes(value)
  )
    throw unsupported(`The canned ACL ${value}`)
  throw new S3Error('InvalidArgument', `Invalid canned ACL: ${value}`)
}

/** The ACL an `AccessControlPolicy` document grants: public-read when AllUsers may READ, else private. */
export function aclFromPolicy(doc: ParsedElement): BucketAcl {
  const list = childrenNamed(doc, 'AccessControlList')[0]
  let publicRead = false
  for (const grant of list ? childrenNamed(list, 'Grant') : []) {
    const grantee = childrenNamed(grant, 'Grantee')[0]
    const permission = textOf(grant, 'Permission')
    const uri = textOf(grantee, 'URI')
    if (uri === undefined) continue
    if (uri !== ALL_USERS || permission !== 'READ') throw unsupported(`A ${permission} grant to ${uri}`)
    publicRead = true
  }
  return publicRead ? 'public-read' : 'private'
}

const NS = 'http://s3.amazonaws.com/doc/2006-03-01/'
const XSI = 'http://www.w3.org/2001/XMLSchema-instance'

/** GetBucketAcl's document: the owner's FULL_CONTROL, plus AllUsers READ when public-read. */
export function aclDocument(owner: string, acl: BucketAcl): string {
  const id = escapeXml(owner)
  const ownerGrant = `<Grant><Grantee xmlns:xsi="${XSI}" xsi:type="CanonicalUser"><ID>${id}</ID><DisplayName>${id}</DisplayName></Grantee><Permission>FULL_CONTROL</Permission></Grant>`
  const publicGrant =
    acl === 'public-read'
      ? `<Grant><Grantee xmlns:xsi="${XSI}" xsi:type="Group"><URI>${ALL_USERS}</URI></Grantee><Permission>READ</Permission></Grant>`
      : ''
  return `<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="${NS}"><Owner><ID>${id}</ID><DisplayName>${id}</DisplayName></Owner><AccessControlList>${ownerGrant}${publicGrant}</AccessControlList></AccessControlPolicy>`
}

/**
 * Access keys for the AWS wires (S3, SQS): `EB…` key ids with a secret shown once, owned by
 * a tenant, limited to read or read-write and optionally to named buckets or queues.
 *
 * Storage: two registry rows per key. The tenant's row (kind `access-key`, no secret) lists
 * and revokes it; a row under the reserved owner `_sigv4` (never a valid tenant name) maps
 * the key id to its tenant and its sealed secret. SigV4 needs the secret itself to compute
 * HMACs, so it cannot be hashed: it is sealed with AES-256-GCM under a key derived by HKDF
 * from `ROOT_KEY`, with the key id and tenant as associated data (a sealed secret copied to
 * another row does not open). Whoever reads the database without `ROOT_KEY` learns no secret.
 *
 * Guarantees: a revoked key stops verifying within `REVOCATION_CACHE_SECONDS` (immediately in
 * the isolate that revoked it). Costs: one libSQL read per key id per isolate and cache period.
 */
import { readConfig } from '../config'
import { base64ToBytes, bytesToBase64 } from '../encoding'
import type { Env } from '../env'
import { AppError } from '../errors'
import { IsolateCache } from '../isolate-cache'
import { createResource, deleteResource, findResource, listResources, type Page } from '../registry'

export const KEY_OWNER = '_sigv4'
export const KEY_KIND = 'access-key'

export type KeyPermission = 'read' | 'read-write'

export interface AccessKeyGrant {
  permission: KeyPermission
  /** Bucket names the key may use; absent = every bucket of the tenant. */
  buckets?: string[]
  /** Queue names the key may use; absent = every queue of the tenant. */
  queues?: string[]
  description?: string
}

export interface AccessKeyView extends AccessKeyGrant {
  accessKeyId: string
  createdAt: number
}

export interface KeyPrincipal extends AccessKeyGrant {
  tenant: string
  accessKeyId: string
}

interface SealedRow extends AccessKeyGrant {
  tenant: string
  sealed: string
}

const encoder = new TextEncoder()
const sealingKeys = new IsolateCache<CryptoKey>(3_600_000, 4)

async function sealingKey(rootKey: string): Promise<CryptoKey> {
  const cached = sealingKeys.lookup(rootKey)
  if (cached) return cached.value
  const material = await crypto.subtle.importKey('raw', encoder.encode(rootKey), 'HKDF', false, ['deriveKey'])
  const key = await crypto.subtle.deriveKey(
    {
      name: 'HKDF',
      hash: 'SHA-256',
      salt: encoder.encode('edgeblocks'),
      info: encoder.encode('sigv4 access-key secrets'),
    },
    material,
    { name: 'AES-GCM', length: 256 },
    false,
    ['encrypt', 'decrypt'],
  )
  return sealingKeys.set(rootKey, key)
}

export async function sealSecret(
  rootKey: string,
  tenant: string,
  keyId: string,
  secret: string,
): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt(
    { name: 'AES-GCM', iv, additionalData: encoder.encode(`${tenant}\n${keyId}`) },
    await sealingKey(rootKey),
    encoder.encode(secret),
  )
  const out = new Uint8Array(12 + sealed.byteLength)
  out.set(iv)
  out.set(new Uint8Array(sealed), 12)
  return bytesToBase64(out)
}

export async function openSecret(
  rootKey: string,
  tenant: string,
  keyId: string,
  sealed: string,
): Promise<string> {
  const bytes = base64ToBytes(sealed) ?? new Uint8Array(0)
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: bytes.subarray(0, 12), additionalData: encoder.encode(`${tenant}\n${keyId}`) },
    await sealingKey(rootKey),
    bytes.subarray(12),
  )
  return new TextDecoder().decode(plain)
}

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'

function randomText(length: number, alphabet: string): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length))
  return Array.from(bytes, (byte) => alphabet[byte % alphabet.length]).join('')
}

/** Creates a key; the secret is in this answer only. */
export async function createAccessKey(
  env: Env,
  tenant: string,
  grant: AccessKeyGrant,
  now = Date.now(),
): Promise<AccessKeyView & { secretAccessKey: string }> {
  const accessKeyId = `EB${randomText(18, ALPHABET)}`
  const secretAccessKey = randomText(40, `${ALPHABET}abcdefghijklmnopqrstuvwxyz01890+/`)
  const sealed = await sealSecret(readConfig(env).rootKey, tenant, accessKeyId, secretAccessKey)
  await createResource<SealedRow>(env, KEY_OWNER, KEY_KIND, accessKeyId, { ...grant, tenant, sealed }, now)
  await createResource<AccessKeyGrant>(env, tenant, KEY_KIND, accessKeyId, grant, now)
  return { accessKeyId, secretAccessKey, ...grant, createdAt: now }
}

export async function listAccessKeys(
  env: Env,
  tenant: string,
  page: { limit: number; cursor?: string | undefined },
): Promise<Page<AccessKeyView>> {
  const found = await listResources<AccessKeyGrant>(env, tenant, KEY_KIND, page)
  return {
    ...found,
    items: found.items.map((row) => ({ accessKeyId: row.name, ...row.config, createdAt: row.createdAt })),
  }
}

const principals = new IsolateCache<{ secret: string; principal: KeyPrincipal }>(0)

/** Revokes a key of the tenant (404 when it has no such key). */
export async function revokeAccessKey(env: Env, tenant: string, accessKeyId: string): Promise<void> {
  await deleteResource(env, tenant, KEY_KIND, accessKeyId)
  await deleteResource(env, KEY_OWNER, KEY_KIND, accessKeyId).catch((error: unknown) => {
    if (!(error instanceof AppError && error.code === 'not_found')) throw error
  })
  principals.delete(accessKeyId)
}

/** The secret and grant of a key id, for the SigV4 verifier; undefined when unknown or revoked. */
export async function lookupAccessKey(
  env: Env,
  accessKeyId: string,
  now = Date.now(),
): Promise<{ secret: string; principal: KeyPrincipal } | undefined> {
  const cached = principals.lookup(accessKeyId, now)
  if (cached) return cached.value
  if (!/^EB[A-Z2-7]{18}$/.test(accessKeyId)) return undefined
  const config = readConfig(env)
  const row = await findResource<SealedRow>(env, KEY_OWNER, KEY_KIND, accessKeyId)
  let found: { secret: string; principal: KeyPrincipal } | null = null
  if (row) {
    const { sealed, ...grant } = row.config
    found = {
      secret: await openSecret(config.rootKey, grant.tenant, accessKeyId, sealed),
      principal: { ...grant, accessKeyId },
    }
  }
  // Only known keys are cached: a key created in another isolate works at once.
  if (found && config.revocationCacheSeconds > 0)
    principals.set(accessKeyId, found, now, config.revocationCacheSeconds * 1000)
  return found ?? undefined
}

/** Whether a key may act on `name` (a bucket or queue) with `write` or only read access. */
export function keyAllows(
  principal: KeyPrincipal,
  kind: 'buckets' | 'queues',
  name: string | undefined,
  write: boolean,
): boolean {
  if (write && principal.permission !== 'read-write') return false
  const names = principal[kind]
  return names === undefined || (name !== undefined && names.includes(name))
}

/**
 * The `x-amz-checksum-*` algorithms of S3: names, header names, incremental computation,
 * and the composite checksum of a multipart object (the checksum of the parts' checksums,
 * then `-<parts>`, as S3 reports for uploads made with per-part checksums).
 */
import { type Checksum, crc32, crc32c, crc64nvme } from '../platform/checksums'
import { base64ToBytes, bytesToBase64 } from '../platform/encoding'
import type { StoredChecksum } from './tables'

export type ChecksumAlgorithm = StoredChecksum['algorithm']

export const CHECKSUM_ALGORITHMS: readonly ChecksumAlgorithm[] = [
  'CRC32',
  'CRC32C',
  'CRC64NVME',
  'SHA1',
  'SHA256',
]

export const checksumHeader = (algorithm: ChecksumAlgorithm) => `x-amz-checksum-${algorithm.toLowerCase()}`

export function algorithmOfHeader(name: string): ChecksumAlgorithm | undefined {
  return CHECKSUM_ALGORITHMS.find((algorithm) => checksumHeader(algorithm) === name.toLowerCase())
}

/** A sync checksum for the CRCs; SHA digests go through a digest stream (see upload.ts). */
export function crcFor(algorithm: ChecksumAlgorithm): Checksum | undefined {
  if (algorithm === 'CRC32') return crc32()
  if (algorithm === 'CRC32C') return crc32c()
  if (algorithm === 'CRC64NVME') return crc64nvme()
  return undefined
}

async function digestOnce(algorithm: ChecksumAlgorithm, bytes: Uint8Array): Promise<Uint8Array> {
  const crc = crcFor(algorithm)
  if (crc) {
    crc.update(bytes)
    return crc.digest()
  }
  const name = algorithm === 'SHA1' ? 'SHA-1' : 'SHA-256'
  return new Uint8Array(await crypto.subtle.digest(name, bytes as BufferSource))
}

/** The checksum of the concatenated part checksums, suffixed with `-<count>`. */
export async function compositeChecksum(algorithm: ChecksumAlgorithm, parts: string[]): Promise<string> {
  const raw = parts.map((part) => base64ToBytes(part) ?? new Uint8Array(0))
  const joined = new Uint8Array(raw.reduce((n, part) => n + part.length, 0))
  let at = 0
  for (const part of raw) {
    joined.set(part, at)
    at += part.length
  }
  return `${bytesToBase64(await digestOnce(algorithm, joined))}-${parts.length}`
}

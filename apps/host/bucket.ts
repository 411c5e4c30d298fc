/**
 * The `BLOBS` binding (the `ObjectBucket` port) as a directory: each object is a file
 * under `objects/` (key hex-encoded, so any key is a safe file name) with its metadata
 * in a `.json` sidecar; writes go to a temporary file that is renamed into place, so a
 * reader sees the old or the new object, never half of one. Multipart uploads keep parts
 * under `uploads/<id>/` until completed. `list` reads the directory: O(objects).
 */
import { createHash, randomUUID } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

interface Meta {
  key: string
  size: number
  etag: string
  uploaded: number
  httpMetadata: Record<string, string>
  customMetadata: Record<string, string>
}

const hexKey = (key: string) => Buffer.from(key, 'utf8').toString('hex')

async function bytesOf(value: unknown): Promise<Uint8Array> {
  if (value === null || value === undefined) return new Uint8Array()
  if (typeof value === 'string') return new TextEncoder().encode(value)
  if (value instanceof ArrayBuffer) return new Uint8Array(value)
  if (ArrayBuffer.isView(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
  if (value instanceof Blob) return new Uint8Array(await value.arrayBuffer())
  return new Uint8Array(await new Response(value as ReadableStream).arrayBuffer())
}

function describe(meta: Meta) {
  return {
    key: meta.key,
    version: meta.etag,
    size: meta.size,
    etag: meta.etag,
    httpEtag: `"${meta.etag}"`,
    uploaded: new Date(meta.uploaded),
    httpMetadata: meta.httpMetadata,
    customMetadata: meta.customMetadata,
    checksums: {},
    storageClass: 'Standard',
    writeHttpMetadata(headers: Headers) {
      for (const [name, value] of Object.entries(meta.httpMetadata)) {
        headers.set(
          name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`),
          value,
        )
      }
    },
  }
}

export class FileBucket {
  private readonly objects: string
  private readonly uploads: string

  constructor(dir: string) {
    this.objects = join(dir, 'objects')
    this.uploads = join(dir, 'uploads')
    mkdirSync(this.objects, { recursive: true })
    mkdirSync(this.uploads, { recursive: true })
  }

  private async meta(key: string): Promise<Meta | null> {
    try {
      return JSON.parse(await readFile(join(this.objects, `${hexKey(key)}.json`), 'utf8')) as Meta
    } catch {
      return null
    }
  }

  async head(key: string) {
    const meta = await this.meta(key)
    return meta ? describe(meta) : null
  }

  async get(key: string, options: { range?: { offset?: number; length?: number; suffix?: number } } = {}) {
    const meta = await this.meta(key)
    if (!meta) return null
    let bytes: Uint8Array = await readFile(join(this.objects, hexKey(key)))
    const range = options.range
    if (range) {
      const start = range.suffix !== undefined ? Math.max(0, meta.size - range.suffix) : (range.offset ?? 0)
      const end = range.length !== undefined ? start + range.length : meta.size
      bytes = bytes.subarray(start, end)
    }
    const body = new Response(bytes).body
    return {
      ...describe(meta),
      body,
      bodyUsed: false,
      range,
      arrayBuffer: async () => bytes.slice().buffer,
      text: async () => new TextDecoder().decode(bytes),
      json: async () => JSON.parse(new TextDecoder().decode(bytes)),
      blob: async () => new Blob([bytes]),
    }
  }

  async put(
    key: string,
    value: unknown,
    options: {
      httpMetadata?: Record<string, string> | Headers
      customMetadata?: Record<string, string>
    } = {},
  ) {
    const bytes = await bytesOf(value)
    const httpMetadata =
      options.httpMetadata instanceof Headers
        ? { contentType: options.httpMetadata.get('content-type') ?? '' }
        : (options.httpMetadata ?? {})
    const meta: Meta = {
      key,
      size: bytes.byteLength,
      etag: createHash('md5').update(bytes).digest('hex'),
      uploaded: Date.now(),
      httpMetadata,
      customMetadata: options.customMetadata ?? {},
    }
    await this.write(key, bytes, meta)
    return describe(meta)
  }

  private async write(key: string, bytes: Uint8Array, meta: Meta): Promise<void> {
    const file = join(this.objects, hexKey(key))
    const temp = `${file}.${randomUUID()}.tmp`
    await writeFile(temp, bytes)
    await rename(temp, file)
    await writeFile(`${temp}.json`, JSON.stringify(meta))
    await rename(`${temp}.json`, `${file}.json`)
  }

  async delete(keys: string | string[]): Promise<void> {
    for (const key of Array.isArray(keys) ? keys : [keys]) {
      await rm(join(this.objects, `${hexKey(key)}.json`), { force: true })
      await rm(join(this.objects, hexKey(key)), { force: true })
    }
  }

  async list(
    options: {
      prefix?: string
      cursor?: string
      limit?: number
      delimiter?: string
      startAfter?: string
    } = {},
  ) {
    const keys = (await readdir(this.objects))
      .filter((file) => file.endsWith('.json') && !file.includes('.tmp'))
      .map((file) => Buffer.from(file.slice(0, -5), 'hex').toString('utf8'))
      .filter((key) => key.startsWith(options.prefix ?? ''))
      .sort()
    const after = options.cursor ?? options.startAfter
    const limit = Math.min(options.limit ?? 1000, 1000)
    const prefixes = new Set<string>()
    const objects = []
    let truncated = false
    for (const key of keys) {
      if (after !== undefined && key <= after) continue
      if (options.delimiter) {
        const rest = key.slice((options.prefix ?? '').length)
        const cut = rest.indexOf(options.delimiter)
        if (cut >= 0) {
          prefixes.add(key.slice(0, (options.prefix ?? '').length + cut + options.delimiter.length))
          continue
        }
      }
      if (objects.length === limit) {
        truncated = true
        break
      }
      const meta = await this.meta(key)
      if (meta) objects.push(describe(meta))
    }
    const last = objects.at(-1)?.key
    return {
      objects,
      delimitedPrefixes: [...prefixes],
      truncated,
      ...(truncated && last ? { cursor: last } : {}),
    }
  }

  async createMultipartUpload(
    key: string,
    options: { httpMetadata?: Record<string, string>; customMetadata?: Record<string, string> } = {},
  ) {
    const uploadId = randomUUID()
    await mkdir(join(this.uploads, uploadId), { recursive: true })
    await writeFile(join(this.uploads, uploadId, 'meta.json'), JSON.stringify({ key, ...options }))
    return this.resumeMultipartUpload(key, uploadId)
  }

  resumeMultipartUpload(key: string, uploadId: string) {
    const dir = join(this.uploads, uploadId)
    return {
      key,
      uploadId,
      uploadPart: async (partNumber: number, value: unknown) => {
        await stat(dir)
        const bytes = await bytesOf(value)
        await writeFile(join(dir, `part-${partNumber}`), bytes)
        return { partNumber, etag: createHash('md5').update(bytes).digest('hex') }
      },
      abort: async () => {
        await rm(dir, { recursive: true, force: true })
      },
      complete: async (parts: { partNumber: number }[]) => {
        const options = JSON.parse(await readFile(join(dir, 'meta.json'), 'utf8'))
        const chunks: Uint8Array[] = []
        for (const part of [...parts].sort((a, b) => a.partNumber - b.partNumber)) {
          chunks.push(await readFile(join(dir, `part-${part.partNumber}`)))
        }
        const result = await this.put(key, Buffer.concat(chunks), options)
        await rm(dir, { recursive: true, force: true })
        return result
      },
    }
  }
}

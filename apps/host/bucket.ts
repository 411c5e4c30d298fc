/**
 * The `BLOBS` binding (the `ObjectBucket` port) as a directory: each object is a file
 * under `objects/` (key hex-encoded, so any key is a safe file name) with its metadata
 * in a `.json` sidecar; writes go to a temporary file that is renamed into place, so a
 * reader sees the old or the new object, never half of one. Bodies stream to and from
 * disk (a stream is written chunk by chunk and fsync'd before the rename). Multipart uploads keep parts
 * under `uploads/<id>/` until completed. `list` reads the directory: O(objects).
 */
import { createHash, randomUUID } from 'node:crypto'
import { createReadStream, mkdirSync } from 'node:fs'
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Readable } from 'node:stream'

interface Meta {
  key: string
  size: number
  etag: string
  uploaded: number
  httpMetadata: Record<string, string>
  customMetadata: Record<string, string>
}

const hexKey = (key: string) => Buffer.from(key, 'utf8').toString('hex')

/**
 * Writes a body to `path` (a stream chunk by chunk, never whole in memory) and flushes it
 * to disk before the caller renames it into place; returns its size and MD5.
 */
async function writeBody(path: string, value: unknown): Promise<{ size: number; etag: string }> {
  const hash = createHash('md5')
  const file = await open(path, 'w')
  let size = 0
  try {
    const write = async (bytes: Uint8Array) => {
      hash.update(bytes)
      size += bytes.byteLength
      await file.write(bytes)
    }
    if (value instanceof ReadableStream) {
      const reader = (value as ReadableStream<Uint8Array>).getReader()
      while (true) {
        const { done, value: chunk } = await reader.read()
        if (done) break
        await write(chunk)
      }
    } else await write(await bytesOf(value))
    await file.sync()
  } finally {
    await file.close()
  }
  return { size, etag: hash.digest('hex') }
}

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
    const range = options.range
    let start = 0
    let end = meta.size
    if (range) {
      start = range.suffix !== undefined ? Math.max(0, meta.size - range.suffix) : (range.offset ?? 0)
      end = Math.min(meta.size, range.length !== undefined ? start + range.length : meta.size)
    }
    // Streamed from the file: a large object is never held in memory whole.
    const body =
      end > start
        ? (Readable.toWeb(
            createReadStream(join(this.objects, hexKey(key)), { start, end: end - 1 }),
          ) as unknown as ReadableStream<Uint8Array>)
        : (new Response(new Uint8Array()).body as ReadableStream<Uint8Array>)
    let used = false
    const consume = () => {
      if (used) throw new TypeError('The body has already been read')
      used = true
      return new Response(body)
    }
    return {
      ...describe(meta),
      body,
      get bodyUsed() {
        return used
      },
      range,
      arrayBuffer: () => consume().arrayBuffer(),
      text: () => consume().text(),
      json: () => consume().json(),
      blob: () => consume().blob(),
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
    const httpMetadata =
      options.httpMetadata instanceof Headers
        ? { contentType: options.httpMetadata.get('content-type') ?? '' }
        : (options.httpMetadata ?? {})
    const file = join(this.objects, hexKey(key))
    const temp = `${file}.${randomUUID()}.tmp`
    const { size, etag } = await writeBody(temp, value).catch(async (error: unknown) => {
      await rm(temp, { force: true })
      throw error
    })
    const meta: Meta = {
      key,
      size,
      etag,
      uploaded: Date.now(),
      httpMetadata,
      customMetadata: options.customMetadata ?? {},
    }
    await rename(temp, file)
    await writeFile(`${temp}.json`, JSON.stringify(meta))
    await rename(`${temp}.json`, `${file}.json`)
    return describe(meta)
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
        const { etag } = await writeBody(join(dir, `part-${partNumber}`), value)
        return { partNumber, etag }
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

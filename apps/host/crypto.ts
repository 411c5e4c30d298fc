/**
 * The Workers additions to Web Crypto and streams that blocks use, on top of the runtime's
 * own: `crypto.subtle.digest('MD5', …)` (workerd accepts MD5, the Web Crypto standard does
 * not), `crypto.DigestStream` (a writable that hashes what is written and resolves
 * `digest`), `FixedLengthStream` (an identity stream that fails unless exactly the declared
 * number of bytes passes) and `IdentityTransformStream`. Hashing uses `node:crypto`, which
 * Node, Bun and Deno all provide. Installing twice changes nothing.
 */
import { createHash } from 'node:crypto'

const NODE_NAMES: Record<string, string> = {
  MD5: 'md5',
  'SHA-1': 'sha1',
  'SHA-256': 'sha256',
  'SHA-384': 'sha384',
  'SHA-512': 'sha512',
}

function hashName(algorithm: string | { name: string }): string {
  const name = (typeof algorithm === 'string' ? algorithm : algorithm.name).toUpperCase()
  const node = NODE_NAMES[name]
  if (!node) throw new DOMException(`Unrecognized algorithm name: ${name}`, 'NotSupportedError')
  return node
}

function bytesOf(chunk: ArrayBuffer | ArrayBufferView): Uint8Array {
  return chunk instanceof ArrayBuffer
    ? new Uint8Array(chunk)
    : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)
}

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
}

/** A writable that hashes every chunk; `digest` resolves with the hash when it is closed. */
export class HostDigestStream extends WritableStream<ArrayBuffer | ArrayBufferView> {
  readonly digest: Promise<ArrayBuffer>
  bytesWritten = 0
  constructor(algorithm: string | { name: string }) {
    const hash = createHash(hashName(algorithm))
    let resolve: (value: ArrayBuffer) => void = () => {}
    let reject: (reason: unknown) => void = () => {}
    const digest = new Promise<ArrayBuffer>((ok, fail) => {
      resolve = ok
      reject = fail
    })
    digest.catch(() => undefined)
    let self: HostDigestStream | undefined
    super({
      write(chunk) {
        const bytes = bytesOf(chunk)
        hash.update(bytes)
        if (self) self.bytesWritten += bytes.byteLength
      },
      close() {
        resolve(toArrayBuffer(hash.digest()))
      },
      abort(reason) {
        reject(reason)
      },
    })
    self = this
    this.digest = digest
  }
}

/** An identity transform that errors when more or fewer than `length` bytes pass through. */
export class HostFixedLengthStream extends TransformStream<ArrayBuffer | ArrayBufferView, Uint8Array> {
  readonly expectedLength: number
  constructor(length: number | bigint) {
    const expected = Number(length)
    let seen = 0
    super({
      transform(chunk, controller) {
        const bytes = bytesOf(chunk)
        seen += bytes.byteLength
        if (seen > expected)
          throw new TypeError(`FixedLengthStream: more than the declared ${expected} bytes`)
        controller.enqueue(bytes)
      },
      flush() {
        if (seen !== expected)
          throw new TypeError(`FixedLengthStream: ${seen} bytes written, ${expected} declared`)
      },
    })
    this.expectedLength = expected
  }
}

export class HostIdentityTransformStream extends TransformStream<ArrayBuffer | ArrayBufferView, Uint8Array> {
  constructor() {
    super({ transform: (chunk, controller) => controller.enqueue(bytesOf(chunk)) })
  }
}

const INSTALLED = Symbol.for('edgeblocks.host.crypto')

export function installWorkersCrypto(): void {
  const global = globalThis as Record<string | symbol, unknown>
  if (global[INSTALLED]) return
  global[INSTALLED] = true
  const subtle = crypto.subtle
  const digest = subtle.digest.bind(subtle)
  Object.defineProperty(subtle, 'digest', {
    configurable: true,
    writable: true,
    value(algorithm: string | { name: string }, data: BufferSource): Promise<ArrayBuffer> {
      const name = typeof algorithm === 'string' ? algorithm : algorithm.name
      if (name.toUpperCase() !== 'MD5') return digest(algorithm, data)
      return Promise.resolve(
        toArrayBuffer(
          createHash('md5')
            .update(bytesOf(data as ArrayBuffer | ArrayBufferView))
            .digest(),
        ),
      )
    },
  })
  Object.defineProperty(crypto, 'DigestStream', {
    configurable: true,
    writable: true,
    value: HostDigestStream,
  })
  global.FixedLengthStream ??= HostFixedLengthStream
  global.IdentityTransformStream ??= HostIdentityTransformStream
}

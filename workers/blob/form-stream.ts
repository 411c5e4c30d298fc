/**
 * Streaming multipart/form-data for browser form uploads (S3 POST Object): the text fields
 * before the file are read into memory (bounded), and the file part is handed over as a
 * stream that ends at the closing boundary — the file's bytes are never held whole.
 *
 * Guarantees: fields are returned in order with their names as sent; field headers and
 * values are bounded (`MAX_FIELD_BYTES` each, `MAX_FIELDS_BYTES` in all) and a form beyond
 * them is malformed; the file stream yields exactly the bytes between the file part's headers
 * and the next boundary, and errors (never ends quietly) if the body stops before one or
 * if it carries more than `limits.maxFileBytes`. S3's rule that the file is the last field means
 * nothing after it is read. Costs: one pass over the bytes; a boundary split across chunks
 * is found by keeping the last `boundary + 3` bytes of each chunk back.
 */
import { concatBytes } from '../platform/encoding'

export const MAX_FIELD_BYTES = 64 * 1024
export const MAX_FIELDS_BYTES = 1024 * 1024

export class MalformedForm extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'MalformedForm'
  }
}

export interface FormFile {
  filename: string
  contentType: string
  body: ReadableStream<Uint8Array>
}

export interface StreamedForm {
  fields: [string, string][]
  /** Bytes of the body before the file's first byte. */
  offset: number
  file: FormFile | undefined
}

const encoder = new TextEncoder()
const decoder = new TextDecoder()

function indexOf(haystack: Uint8Array, needle: Uint8Array, from = 0): number {
  const first = needle[0] as number
  for (let i = haystack.indexOf(first, from); i !== -1; i = haystack.indexOf(first, i + 1)) {
    if (i + needle.length > haystack.length) return -1
    let j = 1
    while (j < needle.length && haystack[i + j] === needle[j]) j++
    if (j === needle.length) return i
  }
  return -1
}

/** The boundary of a `multipart/form-data; boundary=…` content type. */
export function boundaryOf(contentType: string | null): string | undefined {
  const match = /^multipart\/form-data\s*;.*\bboundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType ?? '')
  return match?.[1] ?? match?.[2]
}

function parseHeaders(text: string): { name?: string; filename?: string; contentType: string } {
  let name: string | undefined
  let filename: string | undefined
  let contentType = ''
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':')
    const header = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (header === 'content-disposition') {
      name = /\bname="([^"]*)"/i.exec(value)?.[1]
      filename = /\bfilename="([^"]*)"/i.exec(value)?.[1]
    } else if (header === 'content-type') contentType = value
  }
  return { name, filename, contentType }
}

/** Reads the fields up to the file part (the part named `file`) and returns the file as a stream. */
export async function streamForm(
  body: ReadableStream<Uint8Array>,
  boundary: string,
  /** Read as the file streams, so the caller may set it from the fields (the policy). */
  limits: { maxFileBytes: number },
): Promise<StreamedForm> {
  const reader = body.getReader()
  const delimiter = encoder.encode(`\r\n--${boundary}`)
  // The body starts with `--boundary`; pretending a CRLF came before makes every boundary alike.
  let buffer: Uint8Array = encoder.encode('\r\n')
  let consumed = -2
  let done = false
  const fill = async (): Promise<boolean> => {
    if (done) return false
    const next = await reader.read()
    if (next.done) {
      done = true
      return false
    }
    buffer = concatBytes(buffer, next.value)
    return true
  }
  const take = (n: number): Uint8Array => {
    const out = buffer.subarray(0, n)
    buffer = buffer.subarray(n)
    consumed += n
    return out
  }
  /** Waits until `needle` is in the buffer (within `limit` bytes); returns its index. */
  const find = async (needle: Uint8Array, limit: number): Promise<number> => {
    for (;;) {
      const at = indexOf(buffer, needle)
      if (at !== -1 && at <= limit) return at
      if (buffer.length > limit + needle.length) throw new MalformedForm('A form field is too large.')
      if (!(await fill())) throw new MalformedForm('The form ended before its closing boundary.')
    }
  }
  const fields: [string, string][] = []
  let total = 0
  take(await find(delimiter, MAX_FIELD_BYTES))
  for (;;) {
    take(delimiter.length)
    while (buffer.length < 2 && (await fill()));
    if (buffer[0] === 0x2d && buffer[1] === 0x2d) return { fields, offset: consumed, file: undefined }
    const end = await find(encoder.encode('\r\n\r\n'), MAX_FIELD_BYTES)
    const headers = parseHeaders(decoder.decode(take(end)).replace(/^[ \t]*\r\n/, ''))
    take(4)
    if (headers.name === undefined) throw new MalformedForm('A form part has no name.')
    if (headers.name.toLowerCase() === 'file') {
      const offset = consumed
      return {
        fields,
        offset,
        file: {
          filename: headers.filename ?? '',
          contentType: headers.contentType,
          body: fileStream(),
        },
      }
    }
    const valueEnd = await find(delimiter, MAX_FIELD_BYTES)
    total += valueEnd + headers.name.length
    if (total > MAX_FIELDS_BYTES) throw new MalformedForm('The form fields are too large.')
    fields.push([headers.name, decoder.decode(take(valueEnd))])
  }

  function fileStream(): ReadableStream<Uint8Array> {
    let sent = 0
    let finished = false
    const emit = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
      sent += bytes.length
      if (sent > limits.maxFileBytes) throw new MalformedForm('The file is larger than the policy allows.')
      if (bytes.length > 0) controller.enqueue(bytes.slice())
    }
    return new ReadableStream<Uint8Array>(
      {
        async pull(controller) {
          if (finished) return
          for (;;) {
            const at = indexOf(buffer, delimiter)
            if (at !== -1) {
              emit(controller, take(at))
              finished = true
              controller.close()
              await reader.cancel().catch(() => undefined)
              return
            }
            // Everything but a possible partial delimiter at the end is file content.
            const safe = buffer.length - (delimiter.length - 1)
            if (safe > 0) {
              emit(controller, take(safe))
              return
            }
            if (!(await fill())) throw new MalformedForm('The form ended before the end of the file.')
          }
        },
        async cancel(reason) {
          await reader.cancel(reason).catch(() => undefined)
        },
      },
      { highWaterMark: 0 },
    )
  }
}

/** The streaming form parser: fields before the file, the file as a stream cut at the boundary wherever chunks split, and its size limit enforced as it streams. */
import { describe, expect, it } from 'vitest'
import { boundaryOf, streamForm } from '../../workers/blob/form-stream'

const B = 'XyZ-boundary'
const encoder = new TextEncoder()

function body(text: string, chunkSize: number): ReadableStream<Uint8Array> {
  const bytes = encoder.encode(text)
  let at = 0
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close()
      controller.enqueue(bytes.slice(at, at + chunkSize))
      at += chunkSize
    },
  })
}

const form = (file: string, tail = `\r\n--${B}--\r\n`) =>
  `--${B}\r\nContent-Disposition: form-data; name="key"\r\n\r\nuploads/a\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="Policy"\r\n\r\np\r\nq\r\n` +
  `--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n${file}${tail}`

describe('streaming multipart/form-data', () => {
  it('returns the fields and streams the file, at every chunk size', async () => {
    const file = `line one\r\n--${B.slice(0, 5)} not a boundary\r\n`.repeat(20)
    for (const chunkSize of [1, 2, 3, 7, 16, 64, 1000, 100_000]) {
      const parsed = await streamForm(body(form(file), chunkSize), B, { maxFileBytes: 10_000 })
      expect(parsed.fields).toEqual([
        ['key', 'uploads/a'],
        ['Policy', 'p\r\nq'],
      ])
      expect(parsed.file?.filename).toBe('a.txt')
      expect(parsed.file?.contentType).toBe('text/plain')
      expect(await new Response(parsed.file?.body).text()).toBe(file)
      expect(parsed.offset + file.length + `\r\n--${B}--\r\n`.length).toBe(encoder.encode(form(file)).length)
    }
  })

  it('errors the file stream once it passes the size limit, and when the body ends early', async () => {
    const big = await streamForm(body(form('x'.repeat(5000)), 100), B, { maxFileBytes: 4096 })
    await expect(new Response(big.file?.body).text()).rejects.toThrow(/larger than the policy/)
    const cut = await streamForm(body(form('x'.repeat(500), ''), 100), B, { maxFileBytes: 4096 })
    await expect(new Response(cut.file?.body).text()).rejects.toThrow(/ended before the end of the file/)
  })

  it('reads the boundary from the content type', () => {
    expect(boundaryOf(`multipart/form-data; boundary=${B}`)).toBe(B)
    expect(boundaryOf('multipart/form-data; boundary="a b"')).toBe('a b')
    expect(boundaryOf('application/json')).toBeUndefined()
  })
})

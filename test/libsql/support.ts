// Shared helpers for the libsql server tests: raw Hrana requests, value builders, client assertions.
import { randomUUID } from 'node:crypto'
import { LibsqlError } from '@libsql/client'
import { expect } from 'vitest'

export interface RawResponse {
  status: number
  contentType: string | null
  text: string
  // biome-ignore lint/suspicious/noExplicitAny: test helper returning parsed JSON for assertions
  json: any
}

/** POSTs `body` (an object, or a raw string sent as is) to `url` and parses the JSON answer if any. */
export async function post(
  url: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<RawResponse> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
  })
  return read(res)
}

export async function get(url: string, headers: Record<string, string> = {}): Promise<RawResponse> {
  return read(await fetch(url, { headers }))
}

async function read(res: Response): Promise<RawResponse> {
  const text = await res.text()
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: res.status, contentType: res.headers.get('content-type'), text, json }
}

export const text = (value: string) => ({ type: 'text', value })
export const int = (value: bigint | number) => ({ type: 'integer', value: String(value) })

export function execute(sql: string, args: unknown[] = [], extra: Record<string, unknown> = {}) {
  return { type: 'execute', stmt: { sql, args, ...extra } }
}

/** Runs one pipeline; returns the response body (asserting HTTP 200). */
// biome-ignore lint/suspicious/noExplicitAny: parsed JSON
export async function pipeline(base: string, baton: string | null, requests: unknown[]): Promise<any> {
  const res = await post(`${base.replace(/\/$/, '')}/v2/pipeline`, { baton, requests })
  if (res.status !== 200) throw new Error(`pipeline failed: ${res.status} ${res.text}`)
  return res.json
}

/** A fresh table name per test, so tests sharing a database never collide. */
export const table = () => `t_${randomUUID().replaceAll('-', '')}`

/** The LibsqlError code a client call fails with (fails the test if it does not). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(LibsqlError)
  return (error as LibsqlError).code
}

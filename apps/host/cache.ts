/**
 * The Cache API (`EdgeCache` port) in memory, with the Workers rules that matter to the
 * blocks: only GET requests, `Cache-Control: max-age`/`s-maxage` (or `Expires`) decides
 * the lifetime, `no-store`/`private` responses and 206/`Set-Cookie` are not stored.
 * Bounded by an LRU on entry count; one cache per process, as one per edge location.
 */
import { LRUCache } from 'lru-cache'

interface Entry {
  status: number
  headers: [string, string][]
  body: ArrayBuffer
  expires: number
}

function lifetimeSeconds(headers: Headers): number {
  const control = headers.get('cache-control') ?? ''
  if (/\b(no-store|private)\b/i.test(control)) return 0
  const age = /\bs-maxage=(\d+)/i.exec(control) ?? /\bmax-age=(\d+)/i.exec(control)
  if (age?.[1]) return Number(age[1])
  const expires = headers.get('expires')
  return expires ? Math.max(0, (Date.parse(expires) - Date.now()) / 1000) : 0
}

export class MemoryCache {
  private readonly entries = new LRUCache<string, Entry>({ max: 10_000 })

  private key(request: RequestInfo | URL): string | undefined {
    const req = request instanceof Request ? request : new Request(request)
    return req.method === 'GET' ? req.url : undefined
  }

  async match(request: RequestInfo | URL): Promise<Response | undefined> {
    const key = this.key(request)
    const entry = key ? this.entries.get(key) : undefined
    if (!key || !entry) return undefined
    if (entry.expires <= Date.now()) {
      this.entries.delete(key)
      return undefined
    }
    return new Response(entry.body.slice(0), { status: entry.status, headers: entry.headers })
  }

  async put(request: RequestInfo | URL, response: Response): Promise<void> {
    const key = this.key(request)
    if (!key) throw new TypeError('Cache.put only accepts GET requests')
    if (response.status === 206) throw new TypeError('Cache.put does not accept partial responses')
    const seconds = lifetimeSeconds(response.headers)
    const body = await response.arrayBuffer()
    if (seconds <= 0 || response.headers.has('set-cookie')) return
    this.entries.set(key, {
      status: response.status,
      headers: [...response.headers],
      body,
      expires: Date.now() + seconds * 1000,
    })
  }

  async delete(request: RequestInfo | URL): Promise<boolean> {
    const key = this.key(request)
    return key ? this.entries.delete(key) : false
  }
}

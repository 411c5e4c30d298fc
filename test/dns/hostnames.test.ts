import { SELF } from 'cloudflare:test'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { BLOCKS } from '../../workers/blocks'
import { dnsTenant, uniqueZone } from './support'

afterEach(() => vi.restoreAllMocks())

const urlOf = (input: RequestInfo | URL) =>
  typeof input === 'string' ? input : input instanceof URL ? input.href : input.url

/** Captures the requests the Worker forwards to `prefix`, answering each with `body`. */
function captureOrigin(prefix: string, body: string) {
  const realFetch = globalThis.fetch
  const seen: Array<{ url: string; host: string | null; method: string }> = []
  vi.spyOn(globalThis, 'fetch').mockImplementation(async (input, init) => {
    const url = urlOf(input)
    if (!url.startsWith(prefix)) return realFetch(input, init)
    const request = new Request(input, init)
    seen.push({ url: request.url, host: request.headers.get('x-forwarded-host'), method: request.method })
    return new Response(body)
  })
  return seen
}

describe('hostname routing at the edge', () => {
  it('a host in no hosted zone is a 404 problem', async () => {
    const response = await SELF.fetch('http://unknown.invalid/anything')
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({ detail: 'The host unknown.invalid is not served here.' })
  })

  it('forwards to the A record of the host, keeping path and query', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone('site')
    await t.createZone(zone)
    await t.replace(zone, 'www', 'A', ['192.0.2.44'])
    const seen = captureOrigin('http://192.0.2.44/', 'from the origin')
    const response = await SELF.fetch(`http://www.${zone}/shop?item=1`, { method: 'POST', body: 'x' })
    expect(await response.text()).toBe('from the origin')
    expect(seen).toEqual([{ url: 'http://192.0.2.44/shop?item=1', host: `www.${zone}`, method: 'POST' }])
  })

  it('forwards to the URL of a URI record, through a CNAME', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone('site')
    await t.createZone(zone)
    await t.replace(zone, 'app', 'URI', ['10 1 "https://origin.example/base"'])
    const seen = captureOrigin('https://origin.example/', 'uri target')
    const response = await SELF.fetch(`http://app.${zone}/x`)
    expect(await response.text()).toBe('uri target')
    expect(seen[0]?.url).toBe('https://origin.example/base/x')
  })

  it('a CNAME to <name>.<kind>.edgeblocks.internal reaches the block serving that kind, as the zone owner', async () => {
    const t = await dnsTenant()
    const zone = uniqueZone('site')
    await t.createZone(zone)
    await t.replace(zone, 'shop', 'CNAME', ['storefront.testkind.edgeblocks.internal.'])
    await t.replace(zone, 'broken', 'CNAME', ['x.nosuchkind.edgeblocks.internal.'])
    const served: Array<{ tenant: string; name: string; host: string }> = []
    BLOCKS.push({
      name: 'host-target-test',
      version: '1',
      path: '/v1/host-target-test',
      description: 'a block serving host targets in this test',
      routes: BLOCKS[0]?.routes as never,
      hostTarget: {
        kind: 'testkind',
        async serve(request, _env, _ctx, target) {
          served.push({ ...target, host: new URL(request.url).host })
          return new Response(`served ${target.name}`)
        },
      },
    })
    try {
      const response = await SELF.fetch(`http://shop.${zone}/`)
      expect(await response.text()).toBe('served storefront')
      expect(served).toEqual([{ tenant: t.tenant, name: 'storefront', host: `shop.${zone}` }])
      const broken = await SELF.fetch(`http://broken.${zone}/`)
      expect(broken.status).toBe(502)
      const none = await SELF.fetch(`http://nothing.${zone}/`)
      expect(none.status).toBe(404)
    } finally {
      BLOCKS.pop()
    }
  })

  it('the platform’s own hostnames go straight to the API, without a lookup', async () => {
    const spy = vi.spyOn(globalThis, 'fetch')
    for (const host of ['edge.test', '127.0.0.1:8787', 'localhost', 'x.workers.dev']) {
      const response = await SELF.fetch(`http://${host}/healthz`)
      expect(await response.json()).toEqual({ status: 'ok' })
    }
    expect(spy).not.toHaveBeenCalled()
  })
})

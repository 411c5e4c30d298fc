/**
 * The benchmark's reference point for the blob store: the R2 binding used directly from a
 * bare route, with no auth, no metadata and no hashing. Only `bench/blob.bench.ts` runs it
 * (with its own wrangler config); it is not part of the product.
 */
interface Env {
  BLOBS: R2Bucket
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const key = new URL(request.url).pathname.slice(1)
    if (request.method === 'PUT') {
      await env.BLOBS.put(key, request.body)
      return new Response(null, { status: 200 })
    }
    const object = await env.BLOBS.get(key)
    if (!object) return new Response(null, { status: 404 })
    return new Response(object.body, { headers: { 'content-length': String(object.size) } })
  },
} satisfies ExportedHandler<Env>

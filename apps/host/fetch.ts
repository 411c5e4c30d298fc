/**
 * `fetch` with the Workers behaviour the blocks rely on, over the runtime's own fetch:
 * a request body given as a `ReadableStream` streams as it is (Node's fetch refuses one
 * unless `duplex: 'half'` is set; Workers needs no such option), so a proxied upload is
 * forwarded without being buffered. Installing twice wraps once.
 */
const WRAPPED = Symbol.for('edgeblocks.host.fetch')

type Fetch = typeof fetch

export function workersFetch(base: Fetch): Fetch {
  if ((base as Fetch & { [WRAPPED]?: true })[WRAPPED]) return base
  const wrapped = ((input: RequestInfo | URL, init?: RequestInit) => {
    if (init?.body instanceof ReadableStream && !('duplex' in init)) {
      return base(input, { ...init, duplex: 'half' } as RequestInit)
    }
    return base(input, init)
  }) as Fetch & { [WRAPPED]?: true }
  wrapped[WRAPPED] = true
  return wrapped
}

export function installWorkersFetch(): void {
  globalThis.fetch = workersFetch(globalThis.fetch)
}

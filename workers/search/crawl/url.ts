/**
 * URL normalisation for the crawler: lowercase scheme and host, no fragment, no default
 * port, relative links resolved against their page, query parameters sorted, so one page
 * has one spelling and dedup by string is exact. Only http(s) URLs survive. Cost: one URL
 * parse per link.
 */
export function normaliseUrl(href: string, base?: string): string | undefined {
  let url: URL
  try {
    url = base === undefined ? new URL(href) : new URL(href, base)
  } catch {
    return undefined
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined
  url.hash = ''
  // URL already lowercases the scheme and host and drops a default port.
  if ((url.protocol === 'http:' && url.port === '80') || (url.protocol === 'https:' && url.port === '443'))
    url.port = ''
  url.searchParams.sort()
  const text = url.toString()
  return url.search === '' && text.endsWith('?') ? text.slice(0, -1) : text
}

/** `host[:port]` of a normalised URL: the politeness unit (one frontier object each). */
export function hostKey(url: string): string {
  return new URL(url).host
}

/** Whether the URL lies inside the job's allow-list (a bare host, or a URL prefix). */
export function isAllowed(url: string, allow: readonly string[]): boolean {
  const parsed = new URL(url)
  return allow.some((entry) =>
    entry.includes('/') ? url.startsWith(normaliseUrl(entry) ?? entry) : parsed.host === entry.toLowerCase(),
  )
}

/**
 * robots.txt (RFC 9309): the group for our user agent, else `*`; Allow/Disallow by the
 * longest matching path pattern (`*` wildcard, `$` end anchor), Allow winning ties;
 * `Crawl-delay` and `Sitemap` lines. Cost: linear in the file; a check is linear in rules.
 */
export interface RobotsRule {
  allow: boolean
  pattern: string
}

export interface Robots {
  rules: RobotsRule[]
  crawlDelaySeconds: number | undefined
  sitemaps: string[]
}

export const CRAWLER_AGENT = 'edgeblocks-crawler'
const MAX_ROBOTS_BYTES = 500 * 1024

interface Group {
  agents: string[]
  rules: RobotsRule[]
  delay: number | undefined
}

export function parseRobots(text: string, agent = CRAWLER_AGENT): Robots {
  const groups: Group[] = []
  const sitemaps: string[] = []
  let current: Group | undefined
  let lastWasAgent = false
  for (const raw of text.slice(0, MAX_ROBOTS_BYTES).split(/\r?\n/)) {
    const line = raw.replace(/#.*$/, '').trim()
    const colon = line.indexOf(':')
    if (colon < 0) continue
    const key = line.slice(0, colon).trim().toLowerCase()
    const value = line.slice(colon + 1).trim()
    if (key === 'user-agent') {
      if (!current || !lastWasAgent) {
        current = { agents: [], rules: [], delay: undefined }
        groups.push(current)
      }
      current.agents.push(value.toLowerCase())
      lastWasAgent = true
      continue
    }
    lastWasAgent = false
    if (key === 'sitemap') sitemaps.push(value)
    else if (!current) continue
    else if ((key === 'allow' || key === 'disallow') && value !== '')
      current.rules.push({ allow: key === 'allow', pattern: value })
    else if (key === 'crawl-delay') {
      const seconds = Number(value)
      if (Number.isFinite(seconds) && seconds >= 0) current.delay = seconds
    }
  }
  const name = agent.toLowerCase()
  const mine = groups.filter((group) => group.agents.some((a) => a !== '*' && name.startsWith(a)))
  const chosen = mine.length > 0 ? mine : groups.filter((group) => group.agents.includes('*'))
  return {
    rules: chosen.flatMap((group) => group.rules),
    crawlDelaySeconds: chosen.map((group) => group.delay).find((delay) => delay !== undefined),
    sitemaps,
  }
}

function matchLength(pattern: string, path: string): number {
  const anchored = pattern.endsWith('$')
  const body = anchored ? pattern.slice(0, -1) : pattern
  const source = body
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*')
  return new RegExp(`^${source}${anchored ? '$' : ''}`).test(path) ? body.length : -1
}

/** Whether robots allow the URL's path (with query); no matching rule allows. */
export function robotsAllow(robots: Robots, url: string): boolean {
  const parsed = new URL(url)
  const path = parsed.pathname + parsed.search
  let best = -1
  let allowed = true
  for (const rule of robots.rules) {
    const length = matchLength(rule.pattern, path)
    if (length > best || (length === best && rule.allow)) {
      if (length < 0) continue
      best = length
      allowed = rule.allow
    }
  }
  return allowed
}

/** `<loc>` URLs of a sitemap or sitemap index (bounded). */
export function sitemapUrls(xml: string, max = 10_000): string[] {
  const found: string[] = []
  for (const match of xml.matchAll(/<loc>\s*([^<\s]+)\s*<\/loc>/gi)) {
    found.push((match[1] ?? '').replace(/&amp;/g, '&'))
    if (found.length >= max) break
  }
  return found
}

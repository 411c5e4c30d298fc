import { describe, expect, it } from 'vitest'
import { allowsPrivateNetworks, privateTarget, refusal } from '../../workers/search/crawl/address'
import { parseRobots, robotsAllow, sitemapUrls } from '../../workers/search/crawl/robots'
import { hammingDistance, NEAR_DUPLICATE_BITS, simhash } from '../../workers/search/crawl/simhash'
import { hostKey, isAllowed, normaliseUrl } from '../../workers/search/crawl/url'

describe('URL normalisation', () => {
  it('lowercases scheme and host, drops fragments and default ports, sorts the query', () => {
    expect(normaliseUrl('HTTP://Example.COM:80/Path?b=2&a=1#top')).toBe('http://example.com/Path?a=1&b=2')
    expect(normaliseUrl('https://example.com:443/')).toBe('https://example.com/')
    expect(normaliseUrl('https://example.com:8443/x')).toBe('https://example.com:8443/x')
    expect(normaliseUrl('http://example.com/a?')).toBe('http://example.com/a')
  })

  it('resolves relative links against the page', () => {
    const base = 'http://example.com/docs/guide/intro?x=1'
    expect(normaliseUrl('next', base)).toBe('http://example.com/docs/guide/next')
    expect(normaliseUrl('../api#x', base)).toBe('http://example.com/docs/api')
    expect(normaliseUrl('/top?z=1&a=2', base)).toBe('http://example.com/top?a=2&z=1')
    expect(normaliseUrl('//other.org/p', base)).toBe('http://other.org/p')
    expect(normaliseUrl('#only-a-fragment', base)).toBe('http://example.com/docs/guide/intro?x=1')
  })

  it('keeps only http(s) URLs', () => {
    for (const href of [
      'mailto:a@b.c',
      'javascript:alert(1)',
      'ftp://x.org/',
      'data:text/plain,hi',
      'http://[bad',
    ])
      expect(normaliseUrl(href, 'http://example.com/')).toBeUndefined()
  })

  it('allows by host or by URL prefix', () => {
    expect(hostKey('http://example.com:8080/a')).toBe('example.com:8080')
    expect(isAllowed('http://example.com/a', ['EXAMPLE.com'])).toBe(true)
    expect(isAllowed('http://example.org/a', ['example.com'])).toBe(false)
    expect(isAllowed('http://example.com/docs/x', ['http://Example.com/docs/'])).toBe(true)
    expect(isAllowed('http://example.com/blog/x', ['http://example.com/docs/'])).toBe(false)
  })
})

describe('robots.txt', () => {
  const text = `# comment
User-agent: otherbot
Disallow: /

User-agent: *
Disallow: /private/
Disallow: /*.pdf$
Allow: /private/open
Crawl-delay: 2.5

Sitemap: https://example.com/sitemap.xml
`
  it('takes the * group when no group names our agent, longest match wins, Allow wins ties', () => {
    const robots = parseRobots(text)
    expect(robots.crawlDelaySeconds).toBe(2.5)
    expect(robots.sitemaps).toEqual(['https://example.com/sitemap.xml'])
    expect(robotsAllow(robots, 'https://example.com/')).toBe(true)
    expect(robotsAllow(robots, 'https://example.com/private/x')).toBe(false)
    expect(robotsAllow(robots, 'https://example.com/private/open/y')).toBe(true)
    expect(robotsAllow(robots, 'https://example.com/docs/a.pdf')).toBe(false)
    expect(robotsAllow(robots, 'https://example.com/docs/a.pdf?x=1')).toBe(true)
  })

  it('takes our own group over *', () => {
    const robots = parseRobots(
      `User-agent: *\nDisallow: /\n\nUser-agent: edgeblocks-crawler\nUser-agent: other\nDisallow: /tmp\nCrawl-delay: 1`,
    )
    expect(robots.crawlDelaySeconds).toBe(1)
    expect(robotsAllow(robots, 'http://h/')).toBe(true)
    expect(robotsAllow(robots, 'http://h/tmp/a')).toBe(false)
  })

  it('allows everything without rules, and an empty Disallow means nothing', () => {
    expect(robotsAllow(parseRobots(''), 'http://h/anything')).toBe(true)
    expect(robotsAllow(parseRobots('User-agent: *\nDisallow:'), 'http://h/x')).toBe(true)
  })

  it('reads sitemap locations', () => {
    const xml =
      '<urlset><url><loc> http://h/a?x=1&amp;y=2 </loc></url><url><loc>http://h/b</loc></url></urlset>'
    expect(sitemapUrls(xml)).toEqual(['http://h/a?x=1&y=2', 'http://h/b'])
  })
})

describe('simhash', () => {
  const base =
    'The crawler fetches each page once, extracts its text and links, and hands the text to the index. ' +
    'Pages that say the same thing under different addresses should not fill the results with copies, ' +
    'so each text gets a fingerprint and close fingerprints mark near duplicates of a page already seen.'
  it('is stable, equal for equal text, close for a small edit, far for other text', () => {
    expect(simhash(base)).toBe(simhash(base))
    expect(simhash(base)).toMatch(/^[0-9a-f]{16}$/)
    expect(hammingDistance(simhash(base), simhash(base.toUpperCase()))).toBe(0)
    const edited = `${base} Thanks.`
    expect(hammingDistance(simhash(base), simhash(edited))).toBeLessThanOrEqual(NEAR_DUPLICATE_BITS)
    const other =
      'Volcanic glass forms when lava cools too fast for crystals to grow; obsidian was traded widely.'
    expect(hammingDistance(simhash(base), simhash(other))).toBeGreaterThan(NEAR_DUPLICATE_BITS * 2)
  })

  it('counts differing bits', () => {
    expect(hammingDistance('0000000000000000', 'ffffffffffffffff')).toBe(64)
    expect(hammingDistance('0000000000000001', '0000000000000003')).toBe(1)
  })
})

describe('private crawl targets', () => {
  it('refuses loopback, private, link-local and metadata hosts in every spelling', () => {
    const refused = [
      'http://127.0.0.1:8080/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://127.1/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[64:ff9b::7f00:1]/',
      'http://169.254.169.254/latest/meta-data',
      'http://localhost:3000/',
      'http://app.localhost./',
      'http://metadata.google.internal/',
      'http://10.1.2.3/',
      'http://172.16.0.1/',
      'http://172.31.255.255/',
      'http://192.168.1.1/',
      'http://100.64.0.1/',
      'http://0.0.0.0/',
      'http://[fe80::1]/',
      'http://[fd12:3456::1]/',
      'http://[::]/',
      'http://224.0.0.1/',
    ]
    for (const url of refused) expect(privateTarget(url), url).toBeDefined()
    expect(refusal('http://10.0.0.1/x', false)).toBe(
      'refused: 10.0.0.1 is a private address; set CRAWL_ALLOW_PRIVATE_NETWORKS=true to crawl private networks',
    )
  })

  it('lets public hosts through, and everything when the deployment opts in', () => {
    for (const url of [
      'https://example.com/',
      'http://8.8.8.8/',
      'http://172.32.0.1/',
      'http://[2606:4700::1111]/',
      'http://[::ffff:8.8.8.8]/',
      'http://localhost.example.com/',
    ])
      expect(privateTarget(url), url).toBeUndefined()
    expect(refusal('http://127.0.0.1/', true)).toBeUndefined()
    expect(allowsPrivateNetworks({ CRAWL_ALLOW_PRIVATE_NETWORKS: 'true' })).toBe(true)
    expect(allowsPrivateNetworks({})).toBe(false)
  })
})

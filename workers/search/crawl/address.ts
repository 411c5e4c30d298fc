/**
 * Which crawl targets are refused unless the deployment opts in
 * (`CRAWL_ALLOW_PRIVATE_NETWORKS=true`): loopback, private (RFC 1918, unique-local),
 * carrier-grade NAT, link-local (cloud metadata at 169.254.169.254 included), unspecified,
 * multicast and reserved addresses written as IP literals, IPv4 inside IPv6 (mapped,
 * NAT64) judged by its IPv4 part, and names that mean the machine itself or a cloud
 * metadata service (`localhost`, `*.localhost`, `metadata.google.internal`, …).
 *
 * The WHATWG URL parser has already canonicalised the host (`http://2130706433/`,
 * `http://0x7f.1/` and `http://127.1/` all arrive as `127.0.0.1`), so a literal cannot hide
 * behind another spelling. Names are not resolved here (a Worker has no DNS lookup API;
 * on Cloudflare the network itself keeps Workers' subrequests off private addresses).
 *
 * Cost: one URL parse and a few integer comparisons.
 */

/** [first address, prefix length] of the IPv4 ranges that are refused. */
const V4_BLOCKED: Array<[string, number, string]> = [
  ['0.0.0.0', 8, 'an unspecified ("this network") address'],
  ['10.0.0.0', 8, 'a private address'],
  ['100.64.0.0', 10, 'a carrier-grade NAT address'],
  ['127.0.0.0', 8, 'a loopback address'],
  ['169.254.0.0', 16, 'a link-local (cloud metadata) address'],
  ['172.16.0.0', 12, 'a private address'],
  ['192.0.0.0', 24, 'an IETF protocol address'],
  ['192.168.0.0', 16, 'a private address'],
  ['198.18.0.0', 15, 'a benchmarking address'],
  ['224.0.0.0', 4, 'a multicast address'],
  ['240.0.0.0', 4, 'a reserved address'],
]

const BLOCKED_NAMES = new Set([
  'localhost',
  'metadata',
  'metadata.google.internal',
  'metadata.goog',
  'instance-data',
  'instance-data.ec2.internal',
])

function v4Number(text: string): number | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((part) => /^\d{1,3}$/.test(part) && Number(part) <= 255))
    return undefined
  return parts.reduce((sum, part) => sum * 256 + Number(part), 0)
}

function classifyV4(address: number): string | undefined {
  for (const [base, prefix, label] of V4_BLOCKED) {
    const size = 2 ** (32 - prefix)
    const start = v4Number(base) as number
    if (address >= start && address < start + size) return label
  }
  return undefined
}

/**
 * The eight 16-bit groups of an IPv6 literal (without brackets), or undefined. The URL
 * parser serialises IPv6 in hexadecimal groups (an embedded IPv4 part included).
 */
function v6Groups(text: string): number[] | undefined {
  const halves = text.split('::')
  if (halves.length > 2) return undefined
  const parse = (part: string) =>
    part === ''
      ? []
      : part
          .split(':')
          .map((group) => (/^[0-9a-f]{1,4}$/i.test(group) ? Number.parseInt(group, 16) : Number.NaN))
  const head = parse(halves[0] as string)
  const tail = halves.length === 2 ? parse(halves[1] as string) : []
  const known = head.length + tail.length
  if ((halves.length === 1 && known !== 8) || known > 8) return undefined
  const groups = [...head, ...new Array<number>(8 - known).fill(0), ...tail]
  return groups.some(Number.isNaN) ? undefined : groups
}

function classifyV6(groups: number[]): string | undefined {
  const [a = 0, b = 0, , , , f = 0, g = 0, h = 0] = groups
  const zeroes = (from: number, to: number) => groups.slice(from, to).every((group) => group === 0)
  if (zeroes(0, 8)) return 'an unspecified address'
  if (zeroes(0, 7) && h === 1) return 'a loopback address'
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
  if ((zeroes(0, 5) && (f === 0xffff || f === 0)) || (a === 0x64 && b === 0xff9b && zeroes(2, 6)))
    return classifyV4(g * 65536 + h)
  if ((a & 0xfe00) === 0xfc00) return 'a unique-local (private) address'
  if ((a & 0xffc0) === 0xfe80) return 'a link-local address'
  if ((a & 0xffc0) === 0xfec0) return 'a site-local address'
  if ((a & 0xff00) === 0xff00) return 'a multicast address'
  return undefined
}

/** Why a URL's host is refused as a private target, or undefined when it is public. */
export function privateTarget(url: string): string | undefined {
  let host: string
  try {
    host = new URL(url).hostname.toLowerCase()
  } catch {
    return undefined
  }
  if (host.endsWith('.')) host = host.slice(0, -1)
  if (host.startsWith('[') && host.endsWith(']')) {
    const groups = v6Groups(host.slice(1, -1))
    return groups ? classifyV6(groups) : undefined
  }
  const v4 = v4Number(host)
  if (v4 !== undefined) return classifyV4(v4)
  if (BLOCKED_NAMES.has(host) || host.endsWith('.localhost'))
    return 'a name for this machine or a metadata service'
  return undefined
}

/** The job error for a refused URL (undefined when the URL may be fetched). */
export function refusal(url: string, allowPrivate: boolean): string | undefined {
  if (allowPrivate) return undefined
  const why = privateTarget(url)
  if (!why) return undefined
  return `refused: ${new URL(url).hostname} is ${why}; set CRAWL_ALLOW_PRIVATE_NETWORKS=true to crawl private networks`
}

/** Whether the deployment lets the crawler reach private networks. */
export function allowsPrivateNetworks(env: { CRAWL_ALLOW_PRIVATE_NETWORKS?: string }): boolean {
  return env.CRAWL_ALLOW_PRIVATE_NETWORKS === 'true'
}

/**
 * Real DNS clients against the platform started like `npm run dev`: `dig` (bind9-dnsutils)
 * over DoH (HTTP/2 cleartext and TLS, GET and POST) and over UDP/TCP through a bridge,
 * and `delv` validating the DNSSEC-signed answers with the zone's key as trust anchor.
 * A tiny DoH server in this file is the upstream for names outside the hosted tree; the
 * first configured upstream is a closed port, so forwarding fails over.
 */
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import dnsPacket from 'dns-packet'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Bridge, startBridge, startHttp2Front } from '../../scripts/dns-bridge'
import { freePort, type RunningPlatform, startPlatform } from '../../scripts/platform-process'

const run = promisify(execFile)
const zone = `e2e-${crypto.randomUUID().slice(0, 8)}.test`
const signed = `signed-${crypto.randomUUID().slice(0, 8)}.test`
let platform: RunningPlatform
let upstream: Server
let upstreamPort: number
const fronts: Bridge[] = []
let h2c: number
let h2tls: number
let udp: number
let dir: string
let tokenA: string

async function api(token: string, method: string, path: string, body?: unknown) {
  const response = await fetch(`${platform.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  const json = (await response.json()) as Record<string, unknown>
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${JSON.stringify(json)}`)
  return json
}

const rrset = (name: string, type: string, contents: string[], ttl = 300) => ({
  name,
  type,
  ttl,
  changetype: 'REPLACE',
  records: contents.map((content) => ({ content })),
})

async function dig(...args: string[]): Promise<string> {
  const { stdout } = await run('dig', ['@127.0.0.1', '+tries=1', '+time=5', ...args])
  return stdout
}
const viaH2c = (...args: string[]) => dig('-p', String(h2c), '+http-plain=/dns-query', ...args)
const short = async (...args: string[]) => (await viaH2c('+short', '+norec', ...args)).trim().split('\n')

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'edgeblocks-dns-'))
  upstreamPort = await freePort()
  upstream = createServer((req, res) => {
    if (req.url === '/origin/hello') {
      res.end(`origin saw host ${req.headers['x-forwarded-host']}`)
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const asked = dnsPacket.decode(Buffer.concat(chunks))
      const name = asked.questions?.[0]?.name ?? ''
      res.setHeader('content-type', 'application/dns-message')
      res.end(
        dnsPacket.encode({
          type: 'response',
          id: asked.id,
          flags: dnsPacket.RECURSION_AVAILABLE,
          questions: asked.questions,
          answers: [{ type: 'A', name, ttl: 60, data: '203.0.113.77' }],
        }),
      )
    })
  })
  await new Promise<void>((resolve) => upstream.listen(upstreamPort, '127.0.0.1', resolve))
  const closed = await freePort()
  platform = await startPlatform({
    DNS_UPSTREAMS: `http://127.0.0.1:${closed}/dns-query,http://127.0.0.1:${upstreamPort}/dns-query`,
  })
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
    ],
    { stdio: 'ignore' },
  )
  const { readFileSync } = await import('node:fs')
  const tls = {
    key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
  }
  ;[h2c, h2tls, udp] = [await freePort(), await freePort(), await freePort()]
  fronts.push(await startHttp2Front(platform.url, h2c), await startHttp2Front(platform.url, h2tls, tls))
  fronts.push(await startBridge(`${platform.url}/dns-query`, udp))

  tokenA = await platform.token('dns-e2e-a', ['dns:read', 'dns:write'])
  const tokenB = await platform.token('dns-e2e-b', ['dns:read', 'dns:write'])
  await api(tokenA, 'PUT', `/v1/dns/zones/${zone}`, { rrsets: everyType() })
  await api(tokenB, 'PUT', `/v1/dns/zones/team.${zone}`, { rrsets: [rrset('api', 'A', ['198.51.100.5'])] })
}, 240_000)

/** One RRset of every supported type, a wildcard, two delegations (one with glue), a big TXT. */
function everyType() {
  return [
    rrset('www', 'A', ['192.0.2.80']),
    rrset('www', 'AAAA', ['2001:db8::80']),
    rrset('alias', 'CNAME', ['chain']),
    rrset('chain', 'CNAME', ['www']),
    rrset('@', 'MX', ['10 mail']),
    rrset('mail', 'A', ['192.0.2.25']),
    rrset('@', 'TXT', ['"v=spf1 mx -all"']),
    rrset('_sip._tcp', 'SRV', ['10 60 5060 sip']),
    rrset('@', 'CAA', ['0 issue "letsencrypt.org"']),
    rrset('80.2.0.192', 'PTR', ['www']),
    rrset('svc', 'HTTPS', ['1 . alpn="h2,h3" port=8443']),
    rrset('svcb', 'SVCB', ['1 svc alpn="h3"']),
    rrset('*.apps', 'A', ['192.0.2.100']),
    rrset('ext', 'NS', ['ns.ext']),
    rrset('ns.ext', 'A', ['192.0.2.53']),
    rrset('team', 'NS', ['ns1.edgeblocks.internal.']),
    rrset(
      'big',
      'TXT',
      Array.from({ length: 12 }, (_, i) => `"${'x'.repeat(60)}${i}"`),
    ),
    rrset('site', 'URI', [`10 1 "http://127.0.0.1:${upstreamPort}/origin"`]),
  ]
}

afterAll(async () => {
  for (const front of fronts) await front.stop()
  await platform?.stop()
  await new Promise((resolve) => upstream?.close(resolve))
  rmSync(dir, { recursive: true, force: true })
})

describe('dig over DoH', () => {
  it.each([
    ['www', 'A', ['192.0.2.80']],
    ['www', 'AAAA', ['2001:db8::80']],
    ['', 'MX', [`10 mail.${zone}.`]],
    ['', 'TXT', ['"v=spf1 mx -all"']],
    ['', 'NS', ['ns1.edgeblocks.internal.', 'ns2.edgeblocks.internal.']],
    ['', 'SOA', [`ns1.edgeblocks.internal. hostmaster.${zone}. 1 7200 3600 1209600 300`]],
    ['_sip._tcp', 'SRV', [`10 60 5060 sip.${zone}.`]],
    ['', 'CAA', ['0 issue "letsencrypt.org"']],
    ['80.2.0.192', 'PTR', [`www.${zone}.`]],
    ['svc', 'HTTPS', ['1 . alpn="h2,h3" port=8443']],
    ['svcb', 'SVCB', [`1 svc.${zone}. alpn="h3"`]],
    ['alias', 'A', [`chain.${zone}.`, `www.${zone}.`, '192.0.2.80']],
    ['x.y.apps', 'A', ['192.0.2.100']],
  ])('%s %s', async (name, type, expected) => {
    const answer = await short(name ? `${name}.${zone}` : zone, type as string)
    expect(answer.sort()).toEqual([...(expected as string[])].sort())
  })

  it('GET, POST and TLS give the same answer', async () => {
    const get = await dig('-p', String(h2c), '+http-plain-get=/dns-query', '+short', `www.${zone}`, 'A')
    const tls = await dig('-p', String(h2tls), '+https=/dns-query', '+short', `www.${zone}`, 'A')
    expect([get.trim(), tls.trim()]).toEqual(['192.0.2.80', '192.0.2.80'])
  })

  it('NXDOMAIN and NODATA with the SOA in the authority section', async () => {
    const nx = await viaH2c('+norec', `nope.${zone}`, 'A')
    expect(nx).toMatch(/status: NXDOMAIN/)
    expect(nx).toMatch(/flags: qr aa;/)
    expect(nx).toMatch(new RegExp(`AUTHORITY SECTION:\\n${zone.replace('.', '\\.')}\\.\\s+300\\s+IN\\s+SOA`))
    const nodata = await viaH2c('+norec', `www.${zone}`, 'MX')
    expect(nodata).toMatch(/status: NOERROR/)
    expect(nodata).toMatch(/ANSWER: 0, AUTHORITY: 1/)
  })

  it('a delegation: NS in the authority section, glue in the additional, no AA', async () => {
    const referral = await viaH2c('+norec', `host.ext.${zone}`, 'A')
    expect(referral).toMatch(/flags: qr;/)
    expect(referral).toMatch(
      new RegExp(`ext\\.${zone.replace('.', '\\.')}\\.\\s+300\\s+IN\\s+NS\\s+ns\\.ext`),
    )
    expect(referral).toMatch(/ADDITIONAL SECTION:\n(.*\n)?ns\.ext\.\S+\s+300\s+IN\s+A\s+192\.0\.2\.53/)
  })

  it('resolves through the delegation to another tenant’s zone, and forwards the rest upstream with failover', async () => {
    const team = await viaH2c(`api.team.${zone}`, 'A')
    expect(team).toMatch(/flags: qr rd ra;/)
    expect(team).toMatch(/198\.51\.100\.5/)
    const outside = await viaH2c('+short', 'anything.example.org', 'A')
    expect(outside.trim()).toBe('203.0.113.77')
  })

  it('over UDP a large answer is truncated and dig retries over TCP', async () => {
    const truncated = await dig('-p', String(udp), '+norec', '+ignore', '+bufsize=512', `big.${zone}`, 'TXT')
    expect(truncated).toMatch(/flags: qr aa tc;/)
    const full = await dig('-p', String(udp), '+norec', '+bufsize=512', '+short', `big.${zone}`, 'TXT')
    expect(full.trim().split('\n')).toHaveLength(12)
  })
})

describe('DNSSEC validated by delv', () => {
  let anchors: string
  beforeAll(async () => {
    const created = await api(tokenA, 'PUT', `/v1/dns/zones/${signed}`, {
      dnssec: true,
      rrsets: [
        rrset('www', 'A', ['192.0.2.1']),
        rrset('*.wild', 'TXT', ['"hello"']),
        rrset('alias', 'CNAME', ['www']),
      ],
    })
    const key = (created.dnskey as string[])[0]?.split(' DNSKEY ')[1]?.split(' ') ?? []
    anchors = join(dir, 'anchors.conf')
    writeFileSync(
      anchors,
      `trust-anchors { ${signed}. static-key ${key[0]} ${key[1]} ${key[2]} "${key[3]}"; };\n`,
    )
    expect(created.ds).toEqual([
      expect.stringMatching(new RegExp(`^${signed}\\. IN DS \\d+ 13 2 [0-9A-F]{64}$`)),
    ])
  })

  const delv = async (name: string, type: string) =>
    (await run('delv', ['@127.0.0.1', '-p', String(udp), '-a', anchors, `+root=${signed}`, name, type]))
      .stdout

  it.each([
    ['www', 'A', /; fully validated\n.*192\.0\.2\.1/],
    ['alias', 'A', /; fully validated\n(.*\n)*.*CNAME/],
    ['x.wild', 'TXT', /; fully validated\n.*"hello"/],
    ['nope', 'A', /; negative response, fully validated/],
    ['www', 'MX', /; negative response, fully validated/],
    ['', 'DNSKEY', /; fully validated\n.*DNSKEY\s+257 3 13/],
  ])('%s %s', async (name, type, expected) => {
    expect(await delv(name ? `${name}.${signed}` : signed, type as string)).toMatch(expected as RegExp)
  })
})

describe('signed zone export verified by ldns-verify-zone', () => {
  it('exports DNSKEY, an RRSIG over every RRset and a full NSEC chain that verify', async () => {
    const presigned = `presigned-${crypto.randomUUID().slice(0, 8)}.test`
    await api(tokenA, 'PUT', `/v1/dns/zones/${presigned}`, { dnssec: true, rrsets: everyType() })
    const response = await fetch(`${platform.url}/v1/dns/zones/${presigned}/export?dnssec=true`, {
      headers: { authorization: `Bearer ${tokenA}` },
    })
    expect(response.status).toBe(200)
    const file = await response.text()
    expect(file).toMatch(new RegExp(`^${presigned}\\.\\t3600\\tIN\\tDNSKEY\\t257 3 13 `, 'm'))
    expect(file).toMatch(new RegExp(`^ext\\.${presigned}\\.\\t\\d+\\tIN\\tNSEC\\t`, 'm'))
    const path = join(dir, `${presigned}.zone`)
    writeFileSync(path, file)
    const { stdout } = await run('ldns-verify-zone', [path])
    expect(stdout).toContain('Zone is verified and complete')
    // A changed record breaks its signature: the check is real.
    writeFileSync(path, file.replace('192.0.2.80', '192.0.2.81'))
    await expect(run('ldns-verify-zone', [path])).rejects.toMatchObject({
      stderr: expect.stringContaining('Bogus DNSSEC signature'),
    })
    // An unsigned zone has no signed export.
    const unsigned = await fetch(`${platform.url}/v1/dns/zones/${zone}/export?dnssec=true`, {
      headers: { authorization: `Bearer ${tokenA}` },
    })
    expect(unsigned.status).toBe(409)
  })
})

describe('hostname routing', () => {
  it('a request for a hosted name goes where its URI record points', async () => {
    const port = new URL(platform.url).port
    const body = await new Promise<string>((resolve, reject) => {
      const request = httpRequest(
        { host: '127.0.0.1', port, path: '/hello', headers: { host: `site.${zone}` } },
        (response) => {
          let text = ''
          response.on('data', (chunk) => {
            text += chunk
          })
          response.on('end', () => resolve(text))
        },
      )
      request.on('error', reject)
      request.end()
    })
    expect(body).toBe(`origin saw host site.${zone}`)
  })
})

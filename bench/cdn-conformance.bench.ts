/**
 * The independent HTTP cache test suite (the `http-cache-tests` package, cache-tests.fyi)
 * run through the CDN, Varnish and nginx in the same run, each a caching reverse proxy on
 * 127.0.0.1 in front of the suite's own origin server (started here in this process).
 *
 * The CDN is reached the way a tenant's users reach it: a hostname whose DNS record is a
 * CNAME to `<site>.cdn.edgeblocks.internal.`; a loopback adapter only sets that `Host`, so
 * the suite's own `Authorization` headers reach the CDN untouched. Varnish (default VCL) and
 * nginx (`proxy_cache` + `proxy_cache_revalidate`, the suite's own nginx configuration) run
 * from configuration files generated into a temporary directory; a cache whose binary is
 * missing is skipped (`apt-get install -y varnish nginx-light`).
 *
 * Results are classified as the suite's own report does (a test whose dependency failed
 * counts as neither pass nor fail). Timing-sensitive tests (3 s pauses, Age) vary a little
 * between runs on a busy machine. Not in CI.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFileSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, request as httpRequest, type Server } from 'node:http'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { freePort, type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { printTable } from './harness'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const suiteDir = join(root, 'node_modules/http-cache-tests')
const load = async (file: string) => (await import(pathToFileURL(join(suiteDir, file)).href)).default

interface SuiteTest {
  id: string
  kind?: string
  browser_only?: boolean
}
type Results = Record<string, true | [string, string]>

/** The suite's origin, in this process, on an ephemeral loopback port. */
async function startSuiteOrigin(): Promise<{ url: string; server: Server }> {
  const handlers: Record<string, (segs: string[], req: unknown, res: unknown) => void> = {
    config: await load('server/handle-config.mjs'),
    test: await load('server/handle-test.mjs'),
    state: await load('server/handle-state.mjs'),
  }
  const server = createServer((req, res) => {
    const segs = new URL(req.url ?? '/', 'http://origin').pathname.split('/').slice(1)
    const handler = handlers[segs.shift() ?? '']
    if (handler) handler(segs, req, res)
    else res.writeHead(404).end()
  })
  // Longer than any proxy's idle keep-alive, so no proxy races the origin closing an idle connection.
  server.keepAliveTimeout = 120_000
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, server }
}

/**
 * The suite's own client (what its `cli.mjs` runs: every test, plus Surrogate-Control), with
 * `CONFORMANCE_CHUNK` tests in flight at a time (its CLI runs 100): on a small machine 100
 * concurrent tests slow every cache past the suite's 2-second freshness windows.
 */
const CLIENT = `
import { runTests, getResults } from '${pathToFileURL(join(suiteDir, 'client/runner.mjs')).href}'
import fetch from '${pathToFileURL(createRequire(join(suiteDir, 'package.json')).resolve('node-fetch')).href}'
import tests from '${pathToFileURL(join(suiteDir, 'tests/index.mjs')).href}'
import surrogate from '${pathToFileURL(join(suiteDir, 'tests/surrogate-control.mjs')).href}'
tests.push(surrogate)
await runTests(tests, fetch, false, process.env.SUITE_BASE, Number(process.env.SUITE_CHUNK))
console.log(JSON.stringify(getResults()))
`

/** Runs the suite's client against `base`; its JSON results. */
function runSuite(base: string): Promise<Results> {
  return new Promise((resolveRun, reject) => {
    const cli = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', CLIENT], {
      cwd: suiteDir,
      env: { ...process.env, SUITE_BASE: base, SUITE_CHUNK: process.env.CONFORMANCE_CHUNK ?? '25' },
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    let text = ''
    cli.stdout?.on('data', (chunk) => {
      text += chunk
    })
    cli.once('exit', () => {
      try {
        resolveRun(JSON.parse(text) as Results)
      } catch {
        reject(new Error(`the suite printed no results for ${base}: ${text.slice(0, 500)}`))
      }
    })
  })
}

async function waitForPort(url: string, child: ChildProcess) {
  for (let i = 0; i < 100 && child.exitCode === null; i++) {
    const up = await fetch(`${url}/state/none`).then(
      () => true,
      () => false,
    )
    if (up) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${url} did not come up`)
}

async function stopChild(child: ChildProcess) {
  if (child.exitCode !== null) return
  const exited = new Promise((r) => child.once('exit', r))
  child.kill('SIGTERM')
  await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))])
  if (child.exitCode === null) child.kill('SIGKILL')
}

const installed = (binary: string) => spawnSync('sh', ['-c', `command -v ${binary}`]).status === 0

/** The suite's own Varnish settings (its docker image): no default TTL or grace, so responses without freshness are not stored. */
const VARNISH_PARAMS = [
  '-p',
  'default_ttl=0',
  '-p',
  'default_grace=0',
  '-p',
  'default_keep=3600',
  '-s',
  'malloc,64m',
]

async function withVarnish(dir: string, origin: string, run: (base: string) => Promise<Results>) {
  const port = await freePort()
  const { hostname, port: originPort } = new URL(origin)
  const vcl = join(dir, 'default.vcl')
  await writeFile(vcl, `vcl 4.1;\nbackend default { .host = "${hostname}"; .port = "${originPort}"; }\n`)
  const child = spawn(
    'varnishd',
    ['-F', '-j', 'none', '-n', join(dir, 'varnish'), '-a', `127.0.0.1:${port}`, '-f', vcl, ...VARNISH_PARAMS],
    { stdio: 'ignore' },
  )
  try {
    await waitForPort(`http://127.0.0.1:${port}`, child)
    return await run(`http://127.0.0.1:${port}`)
  } finally {
    await stopChild(child)
  }
}

async function withNginx(dir: string, origin: string, run: (base: string) => Promise<Results>) {
  const port = await freePort()
  const conf = join(dir, 'nginx.conf')
  const temp = (name: string) => `${name}_temp_path ${join(dir, `${name}-temp`)};`
  await writeFile(
    conf,
    `daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'nginx-error.log')};
events { worker_connections 1024; }
http {
  access_log off;
  ${['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map(temp).join('\n  ')}
  proxy_cache_path ${join(dir, 'nginx-cache')} levels=1:2 keys_zone=suite:8m max_size=100m inactive=600m;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${origin};
      proxy_cache suite;
      proxy_cache_revalidate on;
    }
  }
}
`,
  )
  const child = spawn('nginx', ['-c', conf, '-p', dir], { stdio: 'ignore' })
  try {
    await waitForPort(`http://127.0.0.1:${port}`, child)
    return await run(`http://127.0.0.1:${port}`)
  } finally {
    await stopChild(child)
  }
}

/** A CDN site whose origin is the suite's server, reached through a hosted zone's CNAME. */
async function withCdn(platform: RunningPlatform, origin: string, run: (base: string) => Promise<Results>) {
  const token = await platform.token('conformance', ['cdn:read', 'cdn:write', 'dns:read', 'dns:write'])
  const api = async (path: string, body: unknown) => {
    const response = await fetch(`${platform.url}${path}`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    if (!response.ok) throw new Error(`PUT ${path}: ${response.status} ${await response.text()}`)
  }
  const zone = `conformance-${randomBytes(4).toString('hex')}.test`
  await api('/v1/cdn/sites/suite', { originUrl: origin })
  await api(`/v1/dns/zones/${zone}`, {
    rrsets: [
      {
        name: 'www',
        type: 'CNAME',
        ttl: 300,
        changetype: 'REPLACE',
        records: [{ content: 'suite.cdn.edgeblocks.internal.' }],
      },
    ],
  })
  const target = new URL(platform.url)
  const adapter = createServer((req, res) => {
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: `www.${zone}` },
      },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.rawHeaders)
        up.pipe(res)
      },
    )
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  await new Promise<void>((r) => adapter.listen(0, '127.0.0.1', r))
  try {
    if (process.env.CONFORMANCE_HOLD) {
      console.log(`CDN base: http://127.0.0.1:${(adapter.address() as { port: number }).port}`)
      await new Promise((r) => setTimeout(r, Number(process.env.CONFORMANCE_HOLD) * 1000))
    }
    return await run(`http://127.0.0.1:${(adapter.address() as { port: number }).port}`)
  } finally {
    adapter.close()
  }
}

/** `CONFORMANCE_RESULTS=<dir>` keeps each cache's raw results (the suite's JSON) there. */
function summarize(name: string, results: Results, suites: Array<{ tests: SuiteTest[] }>, display: Display) {
  const keep = process.env.CONFORMANCE_RESULTS
  if (keep)
    writeFileSync(
      join(keep, `${name.replace(/\W+/g, '-').toLowerCase()}.json`),
      JSON.stringify(results, null, 2),
    )
  const counts = new Map<string, number>()
  const all = suites.flatMap((suite) => suite.tests).filter((t) => !t.browser_only)
  for (const test of all) {
    const kind = display.determineTestResult(suites, test.id, results)[2] as string
    counts.set(kind, (counts.get(kind) ?? 0) + 1)
  }
  const required = all.filter((t) => (t.kind ?? 'required') === 'required').length
  const optimal = all.filter((t) => t.kind === 'optimal').length
  const n = (symbol: string) => counts.get(symbol) ?? 0
  const requiredPassed = all.filter(
    (t) =>
      (t.kind ?? 'required') === 'required' && display.determineTestResult(suites, t.id, results)[2] === '✅',
  ).length
  const optimalPassed = all.filter(
    (t) => t.kind === 'optimal' && display.determineTestResult(suites, t.id, results)[2] === '✅',
  ).length
  return {
    cache: name,
    'required passed': `${requiredPassed}/${required}`,
    'required failed': n('⛔️'),
    'optimal passed': `${optimalPassed}/${optimal}`,
    'optimal not met': n('⚠️'),
    'dependency failed': n('⚪️'),
    'setup/harness/retry': n('🔹') + n('⁉️') + n('↻'),
    requiredPassed,
  }
}

interface Display {
  determineTestResult(suites: unknown, id: string, results: Results): [string, string, string]
}

/** `CONFORMANCE_CACHES=varnish,nginx,cdn` (the default: all three) picks the caches to run. */
const wanted = (cache: string) =>
  (process.env.CONFORMANCE_CACHES ?? 'varnish,nginx,cdn').split(',').includes(cache)
const suites = (await load('tests/index.mjs')) as Array<{ tests: SuiteTest[] }>
suites.push(await load('tests/surrogate-control.mjs'))
const display = (await import(pathToFileURL(join(suiteDir, 'lib/display.mjs')).href)) as Display
const origin = await startSuiteOrigin()
const dir = await mkdtemp(join(tmpdir(), 'cdn-conformance-'))
const rows: Array<ReturnType<typeof summarize>> = []
let platform: RunningPlatform | undefined
try {
  if (!wanted('varnish')) {
  } else if (installed('varnishd'))
    rows.push(summarize('Varnish', await withVarnish(dir, origin.url, runSuite), suites, display))
  else console.log('varnishd not installed: Varnish skipped')
  if (!wanted('nginx')) {
  } else if (installed('nginx'))
    rows.push(summarize('nginx', await withNginx(dir, origin.url, runSuite), suites, display))
  else console.log('nginx not installed: nginx skipped')
  if (wanted('cdn')) {
    platform = await startPlatform()
    rows.push(summarize('edgeblocks CDN', await withCdn(platform, origin.url, runSuite), suites, display))
  }
} finally {
  await platform?.stop()
  origin.server.close()
  await rm(dir, { recursive: true, force: true })
}
const baseline = rows[0]
const { version } = JSON.parse(readFileSync(join(suiteDir, 'package.json'), 'utf8')) as { version: string }
printTable(
  `HTTP cache tests (http-cache-tests ${version}), the same origin, one run`,
  rows.map(({ requiredPassed, ...row }) => ({
    ...row,
    [`required passed vs ${baseline?.cache}`]: baseline
      ? `${(requiredPassed / Math.max(1, baseline.requiredPassed)).toFixed(2)}×`
      : '',
  })),
)

/**
 * Runs the independent HTTP cache conformance suite (github.com/http-tests/cache-tests)
 * against the CDN: its test server is the origin of a CDN site, and its client talks to the
 * site through a small loopback adapter that only adds the bearer token the test route
 * needs. Prints the pass counts per kind of test, and writes the raw results.
 *
 *   git clone https://github.com/http-tests/cache-tests ../cache-tests
 *   npx tsx scripts/cdn-conformance.ts ../cache-tests [results.json]
 */
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { createServer, request as httpRequest } from 'node:http'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { freePort, startPlatform } from './platform-process'

const suiteDir = resolve(process.argv[2] ?? '../cache-tests')
const output = resolve(process.argv[3] ?? 'cache-tests-results.json')
const serverPort = await freePort()
const server = spawn(process.execPath, ['test-engine/server/server.mjs'], {
  cwd: suiteDir,
  env: {
    ...process.env,
    npm_config_protocol: 'http',
    npm_config_port: String(serverPort),
    npm_config_pidfile: join(suiteDir, '.server.pid'),
  },
  stdio: 'ignore',
})
const platform = await startPlatform()
try {
  const token = await platform.token('conformance', ['cdn:read', 'cdn:write'])
  await fetch(`${platform.url}/v1/cdn/sites/conformance`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ originUrl: `http://127.0.0.1:${serverPort}` }),
  })
  const target = new URL(platform.url)
  const adapter = createServer((req, res) => {
    const headers = { ...req.headers, authorization: `Bearer ${token}`, host: target.host }
    const path = `/v1/cdn/sites/conformance/fetch${req.url}`
    const upstream = httpRequest(
      { host: target.hostname, port: target.port, method: req.method, path, headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.rawHeaders)
        up.pipe(res)
      },
    )
    upstream.on('error', () => res.writeHead(502).end())
    req.pipe(upstream)
  })
  await new Promise<void>((resolveListen) => adapter.listen(0, '127.0.0.1', resolveListen))
  const base = `http://127.0.0.1:${(adapter.address() as { port: number }).port}`
  const cli = spawn(process.execPath, ['--no-warnings', 'test-engine/cli.mjs'], {
    cwd: suiteDir,
    env: { ...process.env, npm_config_base: base, npm_config_id: '', npm_package_config_id: '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  let text = ''
  cli.stdout?.on('data', (chunk) => {
    text += chunk
  })
  await new Promise((resolveExit) => cli.once('exit', resolveExit))
  adapter.close()
  await writeFile(output, text)
  const results = JSON.parse(text) as Record<string, unknown>
  const suites = (await import(pathToFileURL(join(suiteDir, 'tests/index.mjs')).href)).default as Array<{
    tests: Array<{ id: string; kind?: string }>
  }>
  const all = suites.flatMap((suite) => suite.tests)
  for (const kind of [...new Set(all.map((t) => t.kind ?? 'required'))]) {
    const ofKind = all.filter((t) => (t.kind ?? 'required') === kind)
    console.log(`${kind}: ${ofKind.filter((t) => results[t.id] === true).length}/${ofKind.length} passed`)
  }
} finally {
  await platform.stop()
  server.kill()
}

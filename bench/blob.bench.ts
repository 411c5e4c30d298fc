/**
 * The blob store through the real platform (`npm run dev`'s stack, loopback), driven by the
 * AWS SDK (`@aws-sdk/client-s3`, path-style):
 * 1. PUT and GET of 1 KiB, 1 MiB and 64 MiB objects: requests/s and MiB/s;
 * 2. the same through the R2 binding used directly from a bare route in its own Worker
 *    (bench/r2-direct, no auth, metadata or hashing): the block's overhead;
 * 3. a 128 MiB multipart upload with 4 parts in flight (lib-storage `Upload`, 8 MiB parts);
 * 4. the serving process's memory (workerd under `wrangler dev`, found in the dev process's
 *    tree): its resident set while idle and its peak while a 64 MiB object and a 1 GiB
 *    object (generated as it is sent, read and discarded as it arrives) go up and down.
 * The authenticated no-op floor `GET /v1/whoami` is measured in the same run; ratios are
 * the numbers to read (absolute figures move with whatever else runs on the machine).
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { dirname, join } from 'node:path'
import { Readable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3'
import { Upload } from '@aws-sdk/lib-storage'
import { freePort, type RunningPlatform, startPlatform } from '../scripts/platform-process'
import { findDescendant, peakRss, rssBytes } from '../test/support/process-memory'
import { type LoadResult, printTable, runLoad } from './harness'

const here = dirname(fileURLToPath(import.meta.url))
const MiB = 1024 * 1024
const SIZES = [
  { label: '1 KiB', bytes: 1024, concurrency: 16, durationMs: 2_000, maxOps: 5_000 },
  { label: '1 MiB', bytes: MiB, concurrency: 8, durationMs: 2_000, maxOps: 400 },
  { label: '64 MiB', bytes: 64 * MiB, concurrency: 1, durationMs: 10_000, maxOps: 3 },
]

async function startDirect(): Promise<{ url: string; stop: () => void }> {
  const port = await freePort()
  const child: ChildProcess = spawn(
    join(here, '..', 'node_modules', '.bin', 'wrangler'),
    [
      'dev',
      '--config',
      join(here, 'r2-direct', 'wrangler.toml'),
      '--port',
      String(port),
      '--ip',
      '127.0.0.1',
      '--persist-to',
      join(here, '..', '.wrangler', 'bench-r2-direct'),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, WRANGLER_SEND_METRICS: 'false' } },
  )
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const url = `http://127.0.0.1:${port}`
  const deadline = Date.now() + 120_000
  for (;;) {
    if (Date.now() > deadline || child.exitCode !== null)
      throw new Error(`r2-direct did not start:\n${output}`)
    try {
      if ((await fetch(`${url}/ping`)).status === 404) break
    } catch {}
    await new Promise((r) => setTimeout(r, 300))
  }
  return { url, stop: () => child.kill('SIGTERM') }
}

function row(subject: string, result: LoadResult, bytes: number, floor: LoadResult) {
  return {
    subject,
    'requests/s': result.opsPerSec,
    'MiB/s': (result.opsPerSec * bytes) / MiB,
    'p50 ms': result.p50Ms,
    'p99 ms': result.p99Ms,
    errors: result.errors,
    'vs floor (req/s)': `${(result.opsPerSec / floor.opsPerSec).toFixed(2)}×`,
  }
}

let platform: RunningPlatform | undefined
let direct: { url: string; stop: () => void } | undefined
try {
  platform = await startPlatform()
  direct = await startDirect()
  const token = await platform.token('bench-blob', ['blob:read', 'blob:write'])
  const keyResponse = await fetch(`${platform.url}/v1/blob/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: '{}',
  })
  const credentials = (await keyResponse.json()) as { accessKeyId: string; secretAccessKey: string }
  const s3 = new S3Client({
    region: 'auto',
    endpoint: `${platform.url}/s3`,
    forcePathStyle: true,
    credentials,
  })
  const Bucket = `bench-${randomBytes(4).toString('hex')}`
  await s3.send(new CreateBucketCommand({ Bucket }))
  const floor = await runLoad({
    concurrency: 16,
    durationMs: 2_000,
    warmupOps: 20,
    op: () =>
      fetch(`${platform?.url}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } }).then((r) =>
        r.arrayBuffer(),
      ),
  })
  const rows: Record<string, string | number>[] = [
    { ...row('GET /v1/whoami (floor)', floor, 0, floor), 'MiB/s': '–' },
  ]
  for (const size of SIZES) {
    // Distinct bodies per request, so deduplication does not flatter the PUT numbers.
    const base = randomBytes(size.bytes)
    const body = (i: number) => {
      const copy = Buffer.from(base)
      copy.writeUInt32BE(i, 0)
      return copy
    }
    const load = (op: (i: number) => Promise<unknown>) =>
      runLoad({
        concurrency: size.concurrency,
        durationMs: size.durationMs,
        maxOps: size.maxOps,
        warmupOps: 1,
        op,
      })
    const s3Put = await load((i) =>
      s3.send(new PutObjectCommand({ Bucket, Key: `o-${size.label}-${i}`, Body: body(i) })),
    )
    const s3Get = await load(async () => {
      const got = await s3.send(new GetObjectCommand({ Bucket, Key: `o-${size.label}-0` }))
      await got.Body?.transformToByteArray()
    })
    const r2Put = await load((i) =>
      fetch(`${direct?.url}/o-${size.label}-${i}`, { method: 'PUT', body: body(i) }).then((r) =>
        r.arrayBuffer(),
      ),
    )
    const r2Get = await load(() => fetch(`${direct?.url}/o-${size.label}-0`).then((r) => r.arrayBuffer()))
    rows.push(
      {
        ...row(`S3 PUT ${size.label}`, s3Put, size.bytes, floor),
        'vs R2 direct': `${(s3Put.opsPerSec / r2Put.opsPerSec).toFixed(2)}×`,
      },
      { ...row(`R2 direct PUT ${size.label}`, r2Put, size.bytes, floor), 'vs R2 direct': '1.00×' },
      {
        ...row(`S3 GET ${size.label}`, s3Get, size.bytes, floor),
        'vs R2 direct': `${(s3Get.opsPerSec / r2Get.opsPerSec).toFixed(2)}×`,
      },
      { ...row(`R2 direct GET ${size.label}`, r2Get, size.bytes, floor), 'vs R2 direct': '1.00×' },
    )
  }
  rows[0] = { ...rows[0], 'vs R2 direct': '–' }
  printTable('Blob store: PUT and GET through the S3 API vs the R2 binding used directly', rows)

  const total = 128 * MiB
  const part = randomBytes(8 * MiB)
  const started = performance.now()
  const upload = new Upload({
    client: s3,
    params: {
      Bucket,
      Key: 'multipart',
      Body: Buffer.concat(
        Array.from({ length: total / part.length }, (_, i) => {
          const copy = Buffer.from(part)
          copy.writeUInt32BE(i, 0)
          return copy
        }),
      ),
    },
    queueSize: 4,
    partSize: 8 * MiB,
  })
  await upload.done()
  const seconds = (performance.now() - started) / 1000
  printTable('Multipart upload (lib-storage, 8 MiB parts, 4 in flight)', [
    { subject: 'Upload 128 MiB', seconds: seconds.toFixed(2), 'MiB/s': (total / MiB / seconds).toFixed(1) },
  ])

  const workerd = findDescendant(platform.pid, 'workerd')
  if (workerd === undefined) throw new Error('no workerd process under the platform')
  const idle = rssBytes(workerd)
  const generated = (bytes: number) => {
    const chunk = randomBytes(MiB)
    return Readable.from(
      (function* () {
        for (let sent = 0; sent < bytes; sent += MiB) yield chunk
      })(),
    )
  }
  const drain = async (Key: string) => {
    const got = await s3.send(new GetObjectCommand({ Bucket, Key }))
    let received = 0
    for await (const piece of got.Body as AsyncIterable<Uint8Array>) received += piece.length
    return received
  }
  const memoryRows: Record<string, string | number>[] = [
    { subject: 'idle', seconds: '–', 'MiB/s': '–', 'RSS MiB': (idle / MiB).toFixed(0), 'vs idle MiB': '+0' },
  ]
  const measure = async (subject: string, bytes: number, work: () => Promise<unknown>) => {
    const { peakBytes, seconds } = await peakRss(workerd, work)
    memoryRows.push({
      subject,
      seconds: seconds.toFixed(1),
      'MiB/s': (bytes / MiB / seconds).toFixed(1),
      'RSS MiB': (peakBytes / MiB).toFixed(0),
      'vs idle MiB': `+${((peakBytes - idle) / MiB).toFixed(0)}`,
    })
  }
  const big = 64 * MiB
  await measure('PUT 64 MiB (peak)', big, () =>
    s3.send(new PutObjectCommand({ Bucket, Key: 'mem-64', Body: generated(big), ContentLength: big })),
  )
  await measure('GET 64 MiB (peak)', big, () => drain('mem-64'))
  const huge = 1024 * MiB
  await measure('PUT 1 GiB streamed (peak)', huge, () =>
    s3.send(new PutObjectCommand({ Bucket, Key: 'mem-1g', Body: generated(huge), ContentLength: huge })),
  )
  await measure('GET 1 GiB streamed (peak)', huge, () => drain('mem-1g'))
  printTable(
    `Memory of the serving process (workerd pid ${workerd}): idle vs peak while bodies stream`,
    memoryRows,
  )
  s3.destroy()
} finally {
  direct?.stop()
  await platform?.stop()
}

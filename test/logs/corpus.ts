/**
 * A fixed corpus that looks like real service logs: nginx access lines, JSON application
 * logs (with a stack trace among them), logfmt worker logs with structured metadata. Times
 * are offsets from an anchor (two hours before the current hour), so the corpus is always
 * inside retention and queries give fixed answers.
 */
import type { PushStream } from './support'

export const ANCHOR_MS = Math.floor(Date.now() / 3_600_000) * 3_600_000 - 2 * 3_600_000

export const at = (offsetMs: number) => `${BigInt(ANCHOR_MS + offsetMs) * 1_000_000n}`

export const NGINX = [
  '10.0.0.1 - - [02/Dec/2026:10:00:01 +0000] "GET /api/users HTTP/1.1" 200 512 "-" "curl/8.0"',
  '10.0.0.2 - - [02/Dec/2026:10:00:02 +0000] "POST /api/login HTTP/1.1" 401 64 "-" "Mozilla/5.0"',
  '10.0.0.1 - - [02/Dec/2026:10:00:03 +0000] "GET /healthz HTTP/1.1" 200 2 "-" "kube-probe/1.29"',
  '10.0.0.3 - - [02/Dec/2026:10:00:04 +0000] "GET /api/orders HTTP/1.1" 500 128 "-" "curl/8.0"',
  '10.0.0.2 - - [02/Dec/2026:10:00:05 +0000] "DELETE /api/users/7 HTTP/1.1" 204 0 "-" "Mozilla/5.0"',
] as const

export const API = [
  '{"level":"info","msg":"user login","user_id":"u-123","duration_ms":42,"http":{"method":"POST","status":200}}',
  '{"level":"error","msg":"payment failed","user_id":"u-456","duration_ms":1300,"http":{"method":"POST","status":502}}',
  '{"level":"info","msg":"order created","user_id":"u-123","duration_ms":87,"http":{"method":"POST","status":201}}',
  '{"level":"warn","msg":"slow query","user_id":"u-789","duration_ms":950,"http":{"method":"GET","status":200}}',
] as const

export const STACK_TRACE =
  'Error: connect ECONNREFUSED 10.0.0.9:5432\n    at TCPConnectWrap.afterConnect (net.js:1141:16)\n    at Pool.connect (pg/pool.js:45:11)'

export const WORKER = [
  'level=info msg="job started" job_id=j-1 queue=emails',
  'level=error msg="job failed" job_id=j-1 queue=emails attempt=3 duration=1.5',
  'level=info msg="job done" job_id=j-2 queue=reports duration=0.25',
] as const

export const TRACE_ID = 'abc123def456'

export const CORPUS: PushStream[] = [
  { stream: { app: 'nginx', env: 'prod' }, values: NGINX.map((line, i) => [at((i + 1) * 1000), line]) },
  {
    stream: { app: 'api', env: 'prod' },
    values: [...API.map((line, i): [string, string] => [at(1500 + i * 1000), line]), [at(6000), STACK_TRACE]],
  },
  {
    stream: { app: 'worker', env: 'staging' },
    values: [
      [at(1200), WORKER[0]],
      [at(2200), WORKER[1], { trace_id: TRACE_ID }],
      [at(3200), WORKER[2]],
    ],
  },
]

/** The query window holding the whole corpus. */
export const WINDOW = { start: at(0), end: at(3_600_000) }

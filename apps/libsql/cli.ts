// Command line: `npx tsx apps/libsql/cli.ts [--port 8080] [--host 127.0.0.1] [--data .data/libsql]
// [--auth-token X] [--stream-idle-ms 10000]
// [--statement-timeout-ms 5000] [--isolation process|inline] [--embedded-replicas] [--replica-log-frames N]`.
// `--embedded-replicas` serves `syncUrl` clients (see replication.ts). `--isolation inline` runs the engine inside
// the HTTP process (no crash isolation; for measuring what the isolation costs).
//
// Guarantees: prints the server URL on stdout once it listens (one line, `libsql listening on <url>`);
// SIGINT/SIGTERM close it cleanly (streams rolled back, databases checkpointed and closed) and exit 0;
// bad arguments print usage and exit 2. LIBSQL_AUTH_TOKEN is read when --auth-token is not given.

import { parseArgs } from 'node:util'
import { startLibsqlServer } from './server.ts'

const USAGE =
  'usage: cli.ts [--port 8080] [--host 127.0.0.1] [--data .data/libsql|:memory:] [--auth-token TOKEN] [--stream-idle-ms 10000] [--statement-timeout-ms 5000] [--isolation process|inline] [--embedded-replicas] [--replica-log-frames 16384]'

function parse(): Parameters<typeof startLibsqlServer>[0] {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      host: { type: 'string', default: '127.0.0.1' },
      data: { type: 'string', default: '.data/libsql' },
      'auth-token': { type: 'string' },
      'stream-idle-ms': { type: 'string', default: '10000' },
      'statement-timeout-ms': { type: 'string', default: '5000' },
      isolation: { type: 'string', default: 'process' },
      'embedded-replicas': { type: 'boolean', default: false },
      'replica-log-frames': { type: 'string', default: '16384' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    console.log(USAGE)
    process.exit(0)
  }
  const port = Number(values.port)
  const streamIdleMs = Number(values['stream-idle-ms'])
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`invalid --port ${values.port}`)
  if (!Number.isFinite(streamIdleMs) || streamIdleMs <= 0) throw new Error('invalid --stream-idle-ms')
  const statementTimeoutMs = Number(values['statement-timeout-ms'])
  if (!Number.isFinite(statementTimeoutMs) || statementTimeoutMs <= 0)
    throw new Error('invalid --statement-timeout-ms')
  const isolation = values.isolation
  if (isolation !== 'process' && isolation !== 'inline') throw new Error(`invalid --isolation ${isolation}`)
  const replicaLogFrames = Number(values['replica-log-frames'])
  if (!Number.isInteger(replicaLogFrames) || replicaLogFrames <= 0)
    throw new Error('invalid --replica-log-frames')
  const authToken = values['auth-token'] ?? (process.env.LIBSQL_AUTH_TOKEN || undefined)
  return {
    port,
    host: values.host,
    dataDir: values.data,
    authToken,
    streamIdleMs,
    statementTimeoutMs,
    isolation,
    embeddedReplicas: values['embedded-replicas'],
    replicaLogFrames,
  }
}

async function main(): Promise<void> {
  let options: Parameters<typeof startLibsqlServer>[0]
  try {
    options = parse()
  } catch (error) {
    console.error(`${error instanceof Error ? error.message : String(error)}\n${USAGE}`)
    process.exit(2)
  }
  const server = await startLibsqlServer(options)
  console.log(`libsql listening on ${server.url}`)
  let stopping = false
  const stop = (signal: string): void => {
    if (stopping) return
    stopping = true
    console.log(`libsql: ${signal}, closing`)
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error('libsql: error while closing', error)
        process.exit(1)
      },
    )
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

main().catch((error: unknown) => {
  console.error('libsql: failed to start:', error instanceof Error ? error.message : error)
  process.exit(1)
})

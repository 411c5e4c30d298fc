/**
 * Local storage nodes: `count` libSQL server processes (apps/libsql/cli.ts), each with its
 * own data directory and port on 127.0.0.1, for the key-value store (and later the
 * databases block). Each node is a real process, so `kill(i)` is a kill -9 and `restart(i)`
 * starts a new process on the same port over the same files, exactly like a crashed
 * server coming back. `setting` is the value for the `STORAGE_NODES` setting. Nodes serve
 * embedded replicas (`--embedded-replicas`), so platform databases can be synced by `syncUrl`
 * clients; a database gets a frame log only once a replica asks for it.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from './free-port'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
/** `STORAGE_NODES_REPLICA_LOG_FRAMES` shortens the nodes' frame logs (tests that want generations cut). */
const logFrames = process.env.STORAGE_NODES_REPLICA_LOG_FRAMES
const NODE_ARGS = ['--embedded-replicas', ...(logFrames ? ['--replica-log-frames', logFrames] : [])]

export interface LocalStorageNodes {
  /** `[{id, url}]` as JSON: the `STORAGE_NODES` setting. */
  setting: string
  urls: string[]
  pid(index: number): number | undefined
  /** kill -9 of node `index`'s server process (its engine exits with it). */
  kill(index: number): Promise<void>
  /** Starts node `index` again on its port and data directory; resolves once it listens. */
  restart(index: number): Promise<void>
  stop(): Promise<void>
}

/** One libSQL server process (apps/libsql/cli.ts with `extraArgs`); resolves once it listens. */
export function startLibsqlProcess(
  port: number,
  dataDir: string,
  extraArgs: string[] = [],
): Promise<ChildProcess> {
  mkdirSync(dataDir, { recursive: true })
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      join(root, 'apps/libsql/cli.ts'),
      '--port',
      String(port),
      '--data',
      dataDir,
      ...extraArgs,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  return new Promise((resolveStart, reject) => {
    let output = ''
    const onData = (chunk: Buffer) => {
      output += chunk
      if (output.includes('libsql listening on')) {
        child.stdout?.off('data', onData)
        resolveStart(child)
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk
    })
    child.once('exit', (code) =>
      reject(new Error(`storage node on port ${port} exited (${code}): ${output}`)),
    )
  })
}

function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolveExit) => child.once('exit', () => resolveExit()))
}

export async function startStorageNodes(options: {
  count: number
  dataDir: string
  ports?: number[]
  idPrefix?: string
}): Promise<LocalStorageNodes> {
  const ports: number[] = []
  for (let i = 0; i < options.count; i++) ports.push(options.ports?.[i] ?? (await freePort()))
  const dirs = ports.map((_, i) => join(options.dataDir, `node-${i}`))
  const children: Array<ChildProcess | undefined> = await Promise.all(
    ports.map((port, i) => startLibsqlProcess(port, dirs[i] as string, NODE_ARGS)),
  )
  const urls = ports.map((port) => `http://127.0.0.1:${port}`)
  const prefix = options.idPrefix ?? 'node'
  const kill = async (index: number) => {
    const child = children[index]
    if (!child) return
    children[index] = undefined
    child.kill('SIGKILL')
    await exited(child)
  }
  return {
    setting: JSON.stringify(urls.map((url, i) => ({ id: `${prefix}-${i}`, url }))),
    urls,
    pid: (index) => children[index]?.pid,
    kill,
    async restart(index) {
      await kill(index)
      children[index] = await startLibsqlProcess(ports[index] as number, dirs[index] as string, NODE_ARGS)
    },
    async stop() {
      await Promise.all(
        children.map(async (child) => {
          if (!child) return
          child.kill('SIGTERM')
          await exited(child)
        }),
      )
    },
  }
}

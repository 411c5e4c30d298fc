// The HTTP side's handle on the engine: either a supervised child process (default) or inline.
//
// Guarantees (process mode):
// - The engine runs in its own process, so a native abort in the libsql binding (it aborts on, e.g.,
//   reading TEXT that is not valid UTF-8) or a runaway statement never takes the HTTP server down.
// - When the engine process dies, every pending call rejects with EngineFailure, `onLost` fires once
//   (the HTTP side then forgets all streams: their connections and transactions are gone, and their
//   uncommitted writes are rolled back by SQLite), and the next call starts a fresh engine.
// - Committed data is unaffected by an engine death: commits are durable (WAL, synchronous=FULL).
// - A run or cursor call unanswered after the statement timeout while the process sent no heartbeat
//   for as long (a runaway statement holds its only thread) is stopped by killing the process: that
//   call fails with EngineTimeout, the others with EngineFailure. Lock waits are asynchronous and
//   do not count.
// Cost: one IPC round trip (JSON over a pipe) per pipeline.

import { type ChildProcess, fork } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { Engine, type EngineConfig, type RunResult } from './engine.ts'
import type { HranaError } from './hrana.ts'

export type EngineRequest =
  | { id: number; op: 'init'; config: EngineConfig; heartbeatMs: number }
  | { id: number; op: 'run'; stream: number; namespace: string; isNew: boolean; requests: unknown[] }
  | { id: number; op: 'cursor'; stream: number; namespace: string; isNew: boolean; batch: unknown }
  | { id: number; op: 'close'; stream: number }
  | { id: number; op: 'shutdown' }

export type EngineReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: HranaError }

/** The engine could not answer: its process died or is shutting down. */
export class EngineFailure extends Error {}

/** A call ran past the statement timeout: the engine process was killed to stop it. */
export class EngineTimeout extends EngineFailure {}

/** A request-level error reported by the engine (e.g. STREAM_EXPIRED, a database that cannot open). */
export class EngineError extends Error {
  readonly code: string
  constructor(error: HranaError) {
    super(error.message)
    this.code = error.code
  }
}

export interface EnginePort {
  /** Starts the engine; resolves with SQLite's version. */
  start(): Promise<string>
  run(stream: number, namespace: string, isNew: boolean, requests: unknown[]): Promise<RunResult>
  cursor(stream: number, namespace: string, isNew: boolean, batch: unknown): Promise<string[]>
  closeStream(stream: number): Promise<void>
  /** Called whenever the engine lost all its streams (process mode only). */
  onLost(listener: () => void): void
  readonly alive: boolean
  /** Calls (run, cursor) running now. */
  readonly busy: number
  /** Kills the engine process at once and waits for it to be gone (simulates a crash). */
  kill(): Promise<void>
  shutdown(): Promise<void>
}

interface Waiter {
  resolve: (v: unknown) => void
  reject: (e: Error) => void
  timer?: NodeJS.Timeout
}

type Op = EngineRequest extends infer R ? (R extends { op: infer O } ? O : never) : never
type Payload<O extends Op> = Omit<Extract<EngineRequest, { op: O }>, 'id' | 'op'>

export class ProcessEngine implements EnginePort {
  private readonly config: EngineConfig
  private child: ChildProcess | undefined
  private starting: Promise<string> | undefined
  private readonly pending = new Map<number, Waiter>()
  private readonly statementTimeoutMs: number
  private timedOut: number | undefined
  /** When the engine process last sent anything (replies, or heartbeats while its event loop is free). */
  private lastHeard = 0
  private calls = 0
  private readonly lostListeners: Array<() => void> = []
  private nextId = 1
  private stopped = false
  private stderrTail = ''

  /**
   * `statementTimeoutMs`: a run or cursor call unanswered after this long, while the process has also
   * been silent that long (its only thread is stuck in a statement), kills the process. A call waiting
   * asynchronously for a lock keeps the heartbeats coming and ends with SQLITE_BUSY instead.
   */
  constructor(config: EngineConfig, statementTimeoutMs = 0) {
    this.config = { ...config }
    this.statementTimeoutMs = statementTimeoutMs
  }

  get busy(): number {
    return this.calls
  }

  get alive(): boolean {
    return this.child?.connected === true
  }

  onLost(listener: () => void): void {
    this.lostListeners.push(listener)
  }

  start(): Promise<string> {
    if (this.stopped) return Promise.reject(new EngineFailure('the engine is shut down'))
    if (this.starting === undefined) {
      this.starting = this.spawn().catch((error: unknown) => {
        this.starting = undefined
        throw error
      })
    }
    return this.starting
  }

  async run(stream: number, namespace: string, isNew: boolean, requests: unknown[]): Promise<RunResult> {
    return (await this.timed(() => this.call('run', { stream, namespace, isNew, requests }))) as RunResult
  }

  async cursor(stream: number, namespace: string, isNew: boolean, batch: unknown): Promise<string[]> {
    return (await this.timed(() => this.call('cursor', { stream, namespace, isNew, batch }))) as string[]
  }

  private async timed<T>(work: () => Promise<T>): Promise<T> {
    this.calls++
    try {
      return await work()
    } finally {
      this.calls--
    }
  }

  async closeStream(stream: number): Promise<void> {
    if (this.alive) await this.call('close', { stream })
  }

  async kill(): Promise<void> {
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGKILL')
    await exited
  }

  async shutdown(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    const child = this.child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    try {
      if (child.connected) await this.send(child, 'shutdown', {}).catch(() => undefined)
      await exited
    } finally {
      clearTimeout(timer)
    }
  }

  private async call<O extends Op>(op: O, payload: Payload<O>): Promise<unknown> {
    await this.start()
    const child = this.child
    if (child === undefined || !child.connected) throw new EngineFailure('the engine process is not running')
    return this.send(child, op, payload)
  }

  private send<O extends Op>(child: ChildProcess, op: O, payload: Payload<O>): Promise<unknown> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { resolve, reject }
      if (this.statementTimeoutMs > 0 && (op === 'run' || op === 'cursor'))
        waiter.timer = setTimeout(() => this.interrupt(child, id), this.statementTimeoutMs)
      this.pending.set(id, waiter)
      child.send({ id, op, ...payload }, (error) => {
        if (error && this.settle(id)) reject(new EngineFailure(`cannot reach the engine: ${error.message}`))
      })
    })
  }

  /** Removes a pending call and its timer; false if it was already settled. */
  private settle(id: number): Waiter | undefined {
    const waiter = this.pending.get(id)
    if (waiter === undefined) return undefined
    this.pending.delete(id)
    clearTimeout(waiter.timer)
    return waiter
  }

  /**
   * Stops a call that ran past the statement timeout. The binding's interrupt() cannot help: the
   * statement runs synchronously on the engine's only thread, so nothing there could call it. The
   * process is killed instead; SQLite rolls back what was uncommitted, committed data stays (WAL,
   * synchronous=FULL), and the next call starts a fresh engine.
   */
  private interrupt(child: ChildProcess, id: number): void {
    const waiter = this.pending.get(id)
    if (waiter === undefined || this.child !== child) return
    const silentMs = Date.now() - this.lastHeard
    if (silentMs < this.statementTimeoutMs) {
      waiter.timer = setTimeout(() => this.interrupt(child, id), this.statementTimeoutMs - silentMs)
      return
    }
    this.timedOut = id
    child.kill('SIGKILL')
  }

  private spawn(): Promise<string> {
    const here = fileURLToPath(import.meta.url)
    const entry = path.join(path.dirname(here), `engine-process${path.extname(here)}`)
    const execArgv = entry.endsWith('.ts')
      ? ['--experimental-strip-types', '--disable-warning=ExperimentalWarning']
      : []
    const child = fork(entry, [], {
      execArgv,
      stdio: ['ignore', 'inherit', 'pipe', 'ipc'],
      serialization: 'advanced',
    })
    this.child = child
    this.stderrTail = ''
    child.stderr?.on('data', (chunk: Buffer) => {
      process.stderr.write(chunk)
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-4096)
    })
    this.lastHeard = Date.now()
    child.on('message', (message: EngineReply) => {
      this.lastHeard = Date.now()
      const waiter = this.settle(message.id)
      if (waiter === undefined) return
      if (message.ok) waiter.resolve(message.value)
      else waiter.reject(new EngineError(message.error))
    })
    child.on('error', () => undefined) // 'exit' follows and does the bookkeeping
    child.once('exit', (code, signal) => this.onExit(child, code, signal))
    const id = this.nextId++
    const ready = new Promise<string>((resolve, reject) => {
      this.pending.set(id, { resolve: (v) => resolve(String(v)), reject })
      const heartbeatMs =
        this.statementTimeoutMs > 0 ? Math.max(1, Math.floor(this.statementTimeoutMs / 4)) : 0
      child.send({ id, op: 'init', config: this.config, heartbeatMs } satisfies EngineRequest)
    })
    return ready.catch((error: unknown) => {
      child.kill('SIGKILL')
      throw error
    })
  }

  private onExit(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return
    this.child = undefined
    this.starting = undefined
    const reason = signal ? `signal ${signal}` : `exit code ${code}`
    const cause = /Utf8Error/.test(this.stderrTail)
      ? ': the libsql binding aborts on TEXT values that are not valid UTF-8 (select such values as BLOB)'
      : ''
    const failure = new EngineFailure(
      `the database engine process stopped (${reason}) while handling this request${cause}; open streams were closed`,
    )
    const timedOut = this.timedOut === undefined ? undefined : this.settle(this.timedOut)
    this.timedOut = undefined
    timedOut?.reject(
      new EngineTimeout(
        `a statement ran longer than the statement timeout (${this.statementTimeoutMs} ms) and was interrupted; its uncommitted changes were rolled back and open streams were closed`,
      ),
    )
    for (const [id] of [...this.pending]) this.settle(id)?.reject(failure)
    for (const listener of this.lostListeners) listener()
  }
}

/** Runs the engine in this process: no isolation, no IPC. For benchmarks and debugging. */
export class InlineEngine implements EnginePort {
  private readonly engine: Engine
  readonly alive = true
  readonly busy = 0

  constructor(config: EngineConfig) {
    this.engine = new Engine(config)
  }

  async start(): Promise<string> {
    return this.engine.sqliteVersion()
  }

  run(stream: number, namespace: string, isNew: boolean, requests: unknown[]): Promise<RunResult> {
    return this.engine.run(stream, namespace, isNew, requests).catch(rethrow)
  }

  cursor(stream: number, namespace: string, isNew: boolean, batch: unknown): Promise<string[]> {
    return this.engine.cursor(stream, namespace, isNew, batch).catch(rethrow)
  }

  async closeStream(stream: number): Promise<void> {
    this.engine.close(stream)
  }

  onLost(): void {}

  async kill(): Promise<void> {}

  async shutdown(): Promise<void> {
    this.engine.shutdown()
  }
}

function rethrow(error: unknown): never {
  const code = (error as { code?: unknown }).code
  throw new EngineError({
    message: error instanceof Error ? error.message : String(error),
    code: typeof code === 'string' ? code : 'LIBSQL_ENGINE_ERROR',
  })
}

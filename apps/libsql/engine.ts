// The engine: owns every stream's connection and runs pipelines and cursors on them.
//
// Guarantees:
// - A stream is identified by a number the HTTP side assigns. A pipeline for an unknown stream opens a
//   connection only when the caller says the stream is new, so a stream lost to an engine restart can
//   never silently continue outside its transaction.
// - Requests of a pipeline run in order and every one yields exactly one result, in order; a request
//   that cannot be decoded or fails yields an error result and the rest still run. After `close`, later
//   requests get STREAM_CLOSED.
// - A stream runs one pipeline at a time (STREAM_BUSY otherwise); closing a stream that is running is
//   deferred until its pipeline ends. Closing rolls back an open transaction and frees the connection.
// This module runs inside the engine process (engine-process.ts) or inline; it does no HTTP.

import Database from 'libsql'
import { Databases } from './databases.ts'
import { toHranaError } from './errors.ts'
import { type ExecLimits, Executor, type RunBudget, type StreamState } from './executor.ts'
import { decodeBatch, decodeRequest, encodeCols, encodeError, RequestError } from './hrana.ts'

export interface EngineConfig extends ExecLimits {
  /** Directory of the database files. */
  dataDir: string
  synchronous: 'FULL' | 'OFF'
  poolSize: number
  statementCacheSize: number
  walAutocheckpoint?: number
}

export interface RunResult {
  /** JSON text of the `results` array. */
  resultsJson: string
  /** The stream was closed by this pipeline. */
  closed: boolean
}

interface EngineStream {
  readonly namespace: string
  readonly state: StreamState
  running: boolean
  closeWhenIdle: boolean
}

export class Engine {
  private readonly dbs: Databases
  private readonly executor: Executor
  private readonly config: EngineConfig
  private readonly streams = new Map<number, EngineStream>()

  constructor(config: EngineConfig) {
    this.config = { ...config }
    this.dbs = new Databases({
      dir: config.dataDir,
      synchronous: config.synchronous,
      poolSize: config.poolSize,
      statementCacheSize: config.statementCacheSize,
      walAutocheckpoint: config.walAutocheckpoint,
    })
    this.executor = new Executor(this.dbs, config)
  }

  sqliteVersion(): string {
    const db = new Database(':memory:')
    try {
      return String((db.prepare('SELECT sqlite_version()').raw(true).get([]) as unknown[])[0])
    } finally {
      db.close()
    }
  }

  async run(id: number, namespace: string, isNew: boolean, requests: unknown[]): Promise<RunResult> {
    const stream = this.enter(id, namespace, isNew)
    try {
      const budget: RunBudget = { bytesLeft: this.config.maxResponseBytes }
      const results: string[] = []
      for (const [i, raw] of requests.entries()) {
        try {
          if (stream.state.closed)
            throw new RequestError('STREAM_CLOSED', 'the stream was closed by an earlier request')
          const req = decodeRequest(raw, `requests[${i}]`)
          results.push(`{"type":"ok","response":${await this.executor.request(stream.state, req, budget)}}`)
        } catch (error) {
          results.push(`{"type":"error","error":${encodeError(toHranaError(error))}}`)
        }
      }
      return { resultsJson: `[${results.join(',')}]`, closed: stream.state.closed }
    } finally {
      this.leave(id, stream)
    }
  }

  /** Runs a batch and returns its cursor entries as JSON lines (Hrana 3 `v3/cursor`). */
  async cursor(id: number, namespace: string, isNew: boolean, batch: unknown): Promise<string[]> {
    const stream = this.enter(id, namespace, isNew)
    try {
      const lines: string[] = []
      let steps: ReturnType<typeof decodeBatch>
      try {
        steps = decodeBatch(batch, 'batch')
      } catch (error) {
        return [`{"type":"error","error":${encodeError(toHranaError(error))}}`]
      }
      const budget: RunBudget = { bytesLeft: this.config.maxResponseBytes }
      await this.executor.batch(stream.state, steps, budget, (step, outcome) => {
        if (outcome.error) lines.push(JSON.stringify({ type: 'step_error', step, error: outcome.error }))
        if (!outcome.result) return
        const r = outcome.result
        lines.push(`{"type":"step_begin","step":${step},"cols":${r.colsJson || encodeCols([])}}`)
        for (const row of r.rowsJson) lines.push(`{"type":"row","row":${row}}`)
        const rowid = r.lastInsertRowid === null ? 'null' : `"${r.lastInsertRowid}"`
        lines.push(
          `{"type":"step_end","affected_row_count":${r.affectedRowCount},"last_insert_rowid":${rowid}}`,
        )
      })
      return lines
    } finally {
      this.leave(id, stream)
    }
  }

  /** Closes a stream: rolls back its transaction and frees its connection (deferred while running). */
  close(id: number): void {
    const stream = this.streams.get(id)
    if (stream === undefined) return
    if (stream.running) {
      stream.closeWhenIdle = true
      return
    }
    this.streams.delete(id)
    this.dbs.release(stream.state.conn)
  }

  get openStreams(): number {
    return this.streams.size
  }

  shutdown(): void {
    this.streams.clear()
    this.dbs.closeAll()
  }

  private enter(id: number, namespace: string, isNew: boolean): EngineStream {
    let stream = this.streams.get(id)
    if (stream === undefined) {
      if (!isNew)
        throw new RequestError('STREAM_EXPIRED', 'the stream no longer exists (the engine restarted)')
      stream = {
        namespace,
        state: { conn: this.dbs.acquire(namespace), sqls: new Map(), closed: false },
        running: false,
        closeWhenIdle: false,
      }
      this.streams.set(id, stream)
    } else if (stream.namespace !== namespace) {
      throw new RequestError('BATON_INVALID', 'the stream belongs to another database')
    }
    if (stream.running) throw new RequestError('STREAM_BUSY', 'the stream is already running a request')
    stream.running = true
    return stream
  }

  private leave(id: number, stream: EngineStream): void {
    stream.running = false
    if (stream.state.closed || stream.closeWhenIdle) this.close(id)
  }
}

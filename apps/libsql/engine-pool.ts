// A few supervised engine processes behind one EnginePort, so one busy engine (a long or runaway
// statement, until the statement timeout stops it) does not hold up the other connections.
//
// Guarantees:
// - A stream lives in one engine for its whole life: every call for it goes to the engine it opened in.
// - A new stream opens in the first engine with no call running (the first engine when all are busy),
//   so a lightly loaded server uses one process and its warm statement caches; the others start only
//   when needed. All engines open the same database files: SQLite's WAL locking keeps them consistent.
// - When any engine dies, the streams of the other engines are closed too (rolled back) before the
//   listeners hear of it, since the HTTP side then forgets every stream (same contract as one engine).
// Cost: a few idle processes (~40 MB each) once they have started.

import type { RunResult } from './engine.ts'
import type { EnginePort } from './engine-client.ts'

export class EnginePool implements EnginePort {
  private readonly engines: EnginePort[]
  private readonly owner = new Map<number, EnginePort>()
  private readonly lostListeners: Array<() => void> = []

  constructor(engines: EnginePort[]) {
    if (engines.length === 0) throw new Error('an engine pool needs at least one engine')
    this.engines = engines
    for (const engine of engines) engine.onLost(() => this.lost(engine))
  }

  get alive(): boolean {
    return this.engines[0]!.alive
  }

  get busy(): number {
    return this.engines.reduce((sum, e) => sum + e.busy, 0)
  }

  start(): Promise<string> {
    return this.engines[0]!.start()
  }

  async run(stream: number, namespace: string, isNew: boolean, requests: unknown[]): Promise<RunResult> {
    const result = await this.engineFor(stream, isNew).run(stream, namespace, isNew, requests)
    if (result.closed) this.owner.delete(stream)
    return result
  }

  cursor(stream: number, namespace: string, isNew: boolean, batch: unknown): Promise<string[]> {
    return this.engineFor(stream, isNew).cursor(stream, namespace, isNew, batch)
  }

  async closeStream(stream: number): Promise<void> {
    const engine = this.owner.get(stream)
    this.owner.delete(stream)
    if (engine !== undefined) await engine.closeStream(stream)
  }

  onLost(listener: () => void): void {
    this.lostListeners.push(listener)
  }

  async kill(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.kill()))
  }

  async shutdown(): Promise<void> {
    await Promise.all(this.engines.map((e) => e.shutdown()))
  }

  private engineFor(stream: number, isNew: boolean): EnginePort {
    const known = this.owner.get(stream)
    if (known !== undefined) return known
    // an unknown old stream goes to the first engine, which answers STREAM_EXPIRED
    const engine = isNew ? (this.engines.find((e) => e.busy === 0) ?? this.engines[0]!) : this.engines[0]!
    if (isNew) this.owner.set(stream, engine)
    return engine
  }

  private lost(dead: EnginePort): void {
    for (const [stream, engine] of [...this.owner]) {
      this.owner.delete(stream)
      if (engine !== dead) void engine.closeStream(stream).catch(() => undefined)
    }
    for (const listener of this.lostListeners) listener()
  }
}

/**
 * Durable Objects in one process: a namespace per class (`idFromName`, `idFromString`,
 * `newUniqueId`, `get`), one live instance per id, storage in one SQLite file per object,
 * one persisted alarm per object fired by a timer (at-least-once, retried with
 * exponential backoff when the handler throws), `blockConcurrencyWhile` (deliveries wait
 * until it settles), `waitUntil`, and eviction of objects idle for `idleMs`.
 *
 * Serialization: JavaScript runs one task at a time and storage is synchronous, so a
 * method runs to its first `await` without interleaving, as under workerd's input gate.
 * Difference: workerd also closes the input gate while an object awaits its own storage;
 * the SQLite API here never awaits, so the outcome is the same for the blocks' code.
 * Arguments and results are structured-cloned, as RPC copies them across isolates.
 */
import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { OpenDatabase, SqliteDatabase } from './sqlite'
import { HostStorage } from './storage'
import { HostedSockets } from './websockets'

export type ObjectClass = new (state: unknown, env: unknown) => Record<string, unknown>

export interface ObjectHostOptions {
  dir: string
  open: OpenDatabase
  env: Record<string, unknown>
  idleMs?: number
  /** Delay before the first alarm retry; doubles each time, up to six retries (workerd's policy). */
  alarmRetryMs?: number
  log?: (message: string, error?: unknown) => void
}

const MAX_ALARM_RETRIES = 6

class ObjectId {
  constructor(
    private readonly hex: string,
    readonly name?: string,
  ) {}
  toString() {
    return this.hex
  }
  equals(other: { toString(): string }) {
    return other.toString() === this.hex
  }
}

class Live {
  readonly storage: HostStorage
  readonly sockets: HostedSockets
  instance: Record<string, unknown> | undefined
  gate: Promise<unknown> = Promise.resolve()
  inFlight = 0
  lastUsed = Date.now()
  alarmTimer: ReturnType<typeof setTimeout> | undefined
  alarmRunning = false
  retries = 0

  constructor(
    readonly id: ObjectId,
    readonly db: SqliteDatabase,
    readonly owner: ObjectNamespace,
  ) {
    this.storage = new HostStorage(db, { alarmChanged: (at) => owner.scheduleAlarm(this, at) })
    this.sockets = new HostedSockets((message) => owner.deliverSocketEvent(this, message))
  }
}

export class ObjectNamespace {
  private readonly live = new Map<string, Live>()
  private readonly dir: string

  constructor(
    readonly className: string,
    private readonly objectClass: ObjectClass,
    private readonly options: ObjectHostOptions,
  ) {
    this.dir = join(options.dir, className)
    mkdirSync(this.dir, { recursive: true })
  }

  idFromName(name: string) {
    return new ObjectId(createHash('sha256').update(`${this.className}\0${name}`).digest('hex'), name)
  }
  idFromString(hex: string) {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new TypeError('Invalid Durable Object ID: must be 64 hex digits')
    return new ObjectId(hex)
  }
  newUniqueId() {
    return new ObjectId(randomBytes(32).toString('hex'))
  }
  getByName(name: string) {
    return this.get(this.idFromName(name))
  }

  /** A stub: every property is a method call on the object, delivered through its gate. */
  get(id: ObjectId) {
    const call = (method: string, args: unknown[]) => this.deliver(id, method, args)
    const base = {
      id,
      name: id.name,
      fetch: (input: RequestInfo | URL, init?: RequestInit) => call('fetch', [new Request(input, init)]),
    }
    return new Proxy(base, {
      get(target, property) {
        if (typeof property !== 'string' || property === 'then') return undefined
        if (property in target) return target[property as keyof typeof target]
        return (...args: unknown[]) => call(property, args)
      },
    })
  }

  /** Every object of this class that has a file, with its pending alarm rearmed (at start-up). */
  rearmAlarms(): void {
    for (const file of readdirSync(this.dir)) {
      const match = /^([0-9a-f]{64})\.sqlite$/.exec(file)
      if (!match?.[1]) continue
      const entry = this.open(new ObjectId(match[1]))
      const at = entry.storage.alarmAt()
      if (at === null) this.close(entry)
      else this.scheduleAlarm(entry, at)
    }
  }

  private open(id: ObjectId): Live {
    const key = id.toString()
    let entry = this.live.get(key)
    if (!entry) {
      entry = new Live(id, this.options.open(join(this.dir, `${key}.sqlite`)), this)
      this.live.set(key, entry)
    }
    return entry
  }

  private instantiate(entry: Live): Record<string, unknown> {
    if (entry.instance) return entry.instance
    const state = {
      id: entry.id,
      storage: entry.storage,
      blockConcurrencyWhile: async <T>(body: () => Promise<T>): Promise<T> => {
        const run = Promise.resolve().then(body)
        entry.gate = run.catch(() => undefined)
        return run
      },
      waitUntil: (promise: Promise<unknown>) => {
        promise.catch((error) => this.options.log?.(`waitUntil in ${this.className} failed`, error))
      },
      acceptWebSocket: (socket: WebSocket, tags: string[] = []) => entry.sockets.accept(socket, tags),
      getWebSockets: (tag?: string) => entry.sockets.list(tag),
      getTags: (socket: WebSocket) => entry.sockets.tagsOf(socket),
      setWebSocketAutoResponse: (pair?: { request: string; response: string }) =>
        entry.sockets.setAutoResponse(pair),
      getWebSocketAutoResponse: () => entry.sockets.autoResponse,
      abort: (reason?: string) => {
        this.evict(entry)
        throw new Error(reason ?? 'Durable Object aborted')
      },
    }
    entry.instance = new this.objectClass(state, this.options.env)
    return entry.instance
  }

  async deliver(id: ObjectId, method: string, args: unknown[]): Promise<unknown> {
    const entry = this.open(id)
    entry.inFlight += 1
    entry.lastUsed = Date.now()
    try {
      const instance = this.instantiate(entry)
      let gate = entry.gate
      while (true) {
        await gate
        if (gate === entry.gate) break
        gate = entry.gate
      }
      const target = instance[method]
      if (typeof target !== 'function') throw new TypeError(`The object has no method "${method}"`)
      const copied = method === 'fetch' ? args : structuredClone(args)
      const result = await target.apply(instance, copied)
      if (result instanceof Response) return this.holdWhileStreaming(entry, result)
      return structuredClone(result)
    } finally {
      entry.inFlight -= 1
      entry.lastUsed = Date.now()
    }
  }

  /** A streamed body (an event stream) keeps its object in memory until the body ends or is cancelled. */
  private holdWhileStreaming(entry: Live, response: Response): Response {
    if (!response.body || response.status === 101) return response
    const reader = response.body.getReader()
    entry.inFlight += 1
    let released = false
    const release = () => {
      if (released) return
      released = true
      entry.inFlight -= 1
      entry.lastUsed = Date.now()
    }
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read()
          if (done) {
            release()
            controller.close()
          } else controller.enqueue(value)
        } catch (error) {
          release()
          controller.error(error)
        }
      },
      cancel(reason) {
        release()
        return reader.cancel(reason)
      },
    })
    return new Response(body, {
      status: response.status,
      statusText: response.statusText,
      headers: response.headers,
    })
  }

  scheduleAlarm(entry: Live, at: number | null): void {
    clearTimeout(entry.alarmTimer)
    entry.alarmTimer = undefined
    if (at === null) return
    entry.retries = 0
    this.armTimer(entry, at - Date.now())
  }

  private armTimer(entry: Live, delayMs: number) {
    // Timers longer than 2^31-1 ms overflow; re-arm in steps.
    const step = Math.min(Math.max(0, delayMs), 2 ** 31 - 1)
    entry.alarmTimer = setTimeout(() => void this.fireAlarm(entry), step)
    entry.alarmTimer.unref?.()
  }

  private async fireAlarm(entry: Live): Promise<void> {
    entry.alarmTimer = undefined
    const at = entry.storage.alarmAt()
    if (at === null || entry.alarmRunning) return
    if (at > Date.now()) return this.armTimer(entry, at - Date.now())
    entry.alarmRunning = true
    try {
      await this.deliver(entry.id, 'alarm', [{ retryCount: entry.retries, isRetry: entry.retries > 0 }])
      entry.storage.clearFiredAlarm(at)
      entry.retries = 0
    } catch (error) {
      this.options.log?.(`alarm of ${this.className} ${entry.id} threw`, error)
      if (entry.retries < MAX_ALARM_RETRIES) {
        const delay = (this.options.alarmRetryMs ?? 2000) * 2 ** entry.retries
        entry.retries += 1
        if (entry.storage.alarmAt() === at) this.armTimer(entry, delay)
      } else {
        entry.storage.clearFiredAlarm(at)
        entry.retries = 0
      }
    } finally {
      entry.alarmRunning = false
    }
    const next = entry.storage.alarmAt()
    if (next !== null && next !== at && entry.alarmTimer === undefined)
      this.armTimer(entry, next - Date.now())
  }

  /** Drops the instances idle longer than `idleMs`; their storage, alarms and hibernated sockets stay. */
  evictIdle(now = Date.now()): number {
    let evicted = 0
    for (const entry of this.live.values()) {
      if (entry.inFlight > 0 || entry.alarmRunning || now - entry.lastUsed < (this.options.idleMs ?? 70_000))
        continue
      if (entry.instance === undefined && (entry.alarmTimer || entry.sockets.count() > 0)) continue
      this.evict(entry)
      evicted += 1
    }
    return evicted
  }

  /** Drops one instance from memory (a restart of the object); storage and sockets stay. */
  evict(entry: Live): void {
    entry.instance = undefined
    entry.gate = Promise.resolve()
    if (!entry.alarmTimer && entry.sockets.count() === 0) this.close(entry)
  }

  evictById(id: ObjectId): void {
    const entry = this.live.get(id.toString())
    if (entry) this.evict(entry)
  }

  private close(entry: Live): void {
    clearTimeout(entry.alarmTimer)
    this.live.delete(entry.id.toString())
    entry.db.close()
  }

  /** A hibernated socket's event: wakes the object (a new instance if evicted) and calls its handler. */
  async deliverSocketEvent(entry: Live, event: { method: string; args: unknown[] }): Promise<void> {
    try {
      await this.deliverLocal(entry, event.method, event.args)
    } catch (error) {
      this.options.log?.(`${event.method} of ${this.className} threw`, error)
    }
  }

  private async deliverLocal(entry: Live, method: string, args: unknown[]) {
    const instance = this.instantiate(entry)
    await entry.gate
    const handler = instance[method]
    if (typeof handler === 'function') await handler.apply(instance, args)
  }

  closeAll(): void {
    for (const entry of [...this.live.values()]) this.close(entry)
  }

  liveCount(): number {
    return [...this.live.values()].filter((entry) => entry.instance).length
  }
}

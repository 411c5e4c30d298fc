import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { ObjectNamespace } from '../../apps/host/objects'
import { openNodeDatabase } from '../../apps/host/sqlite-node'
import { type HostWebSocket, installWorkersGlobals } from '../../apps/host/websockets'

installWorkersGlobals()

type State = {
  storage: {
    sql: {
      exec(query: string, ...bindings: unknown[]): { one(): Record<string, unknown>; toArray(): unknown[] }
    }
    transactionSync<T>(body: () => T): T
    setAlarm(at: number): Promise<void>
    getAlarm(): Promise<number | null>
  }
  blockConcurrencyWhile<T>(body: () => Promise<T>): Promise<T>
  acceptWebSocket(socket: unknown, tags?: string[]): void
  getWebSockets(tag?: string): { deserializeAttachment(): unknown; send(data: string): void }[]
}

const events: string[] = []

/** A test object: a counter, a gate held by blockConcurrencyWhile, an alarm that fails N times. */
class Probe {
  constructor(
    readonly ctx: State,
    readonly env: unknown,
  ) {
    ctx.storage.sql.exec('CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v INTEGER NOT NULL)')
    void ctx.blockConcurrencyWhile(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20))
      ctx.storage.sql.exec("INSERT OR IGNORE INTO kv VALUES ('ready', 1)")
    })
  }
  increment(): number {
    return this.ctx.storage.transactionSync(() => {
      const ready = this.ctx.storage.sql.exec("SELECT count(*) AS n FROM kv WHERE k = 'ready'").one().n
      if (ready !== 1) throw new Error('called before blockConcurrencyWhile settled')
      const row = this.ctx.storage.sql.exec("SELECT v FROM kv WHERE k = 'count'").toArray()[0] as
        | { v: number }
        | undefined
      const next = (row?.v ?? 0) + 1
      this.ctx.storage.sql.exec("INSERT OR REPLACE INTO kv VALUES ('count', ?)", next)
      return next
    })
  }
  async slow(ms: number): Promise<{ start: number; end: number }> {
    const start = performance.now()
    await new Promise((resolve) => setTimeout(resolve, ms))
    return { start, end: performance.now() }
  }
  async armAlarm(failures: number): Promise<void> {
    this.ctx.storage.sql.exec("INSERT OR REPLACE INTO kv VALUES ('failures', ?)", failures)
    await this.ctx.storage.setAlarm(Date.now())
  }
  alarm(info: { retryCount: number }): void {
    const left = this.ctx.storage.sql.exec("SELECT v FROM kv WHERE k = 'failures'").one().v as number
    events.push(`alarm retry=${info.retryCount}`)
    if (left > 0) {
      this.ctx.storage.sql.exec("UPDATE kv SET v = v - 1 WHERE k = 'failures'")
      throw new Error('alarm handler failed on purpose')
    }
  }
  alarmAt(): Promise<number | null> {
    return this.ctx.storage.getAlarm()
  }
  fetch(request: Request): Response {
    if (new URL(request.url).pathname === '/stream') {
      const storage = this.ctx.storage
      return new Response(
        new ReadableStream({
          pull(controller) {
            // Reads the object's storage while streaming, as an event stream does.
            const count = storage.sql.exec("SELECT count(*) AS n FROM kv WHERE k = 'ready'").one().n
            controller.enqueue(new TextEncoder().encode(`ready=${count}\n`))
            controller.close()
          },
        }),
      )
    }
    const pair = new WebSocketPair()
    this.ctx.acceptWebSocket(pair[1], ['room'])
    pair[1].serializeAttachment({ user: new URL(request.url).searchParams.get('user') })
    return new Response(null, { status: 101, webSocket: pair[0] })
  }
  webSocketMessage(socket: { deserializeAttachment(): unknown; send(data: string): void }, message: string) {
    socket.send(JSON.stringify({ message, attachment: socket.deserializeAttachment() }))
  }
}

const dir = mkdtempSync(join(tmpdir(), 'edgeblocks-host-'))
const namespace = new ObjectNamespace('Probe', Probe as never, {
  dir,
  open: openNodeDatabase,
  env: {},
  alarmRetryMs: 10,
  log: () => {},
})
type ProbeStub = { [K in keyof Probe]: (...args: unknown[]) => Promise<unknown> }
const stub = (name: string) => namespace.get(namespace.idFromName(name)) as unknown as ProbeStub

afterAll(() => namespace.closeAll())

describe('the portable host’s Durable Objects', () => {
  it('serializes 1,000 concurrent increments on one object exactly, after blockConcurrencyWhile', async () => {
    const counter = stub(crypto.randomUUID())
    const results = await Promise.all(Array.from({ length: 1000 }, () => counter.increment()))
    expect(new Set(results).size).toBe(1000)
    expect(Math.max(...(results as number[]))).toBe(1000)
  })

  it('keeps the state across an eviction (a new instance over the same file)', async () => {
    const name = crypto.randomUUID()
    await stub(name).increment()
    namespace.evictById(namespace.idFromName(name))
    expect(await stub(name).increment()).toBe(2)
  })

  it('evicts idle objects from memory and keeps busy ones', async () => {
    const [idle, busy] = [crypto.randomUUID(), crypto.randomUUID()]
    await stub(idle).increment()
    const pending = stub(busy).slow(100)
    const before = namespace.liveCount()
    // Far in the future every object is idle, but one with a call in flight stays.
    expect(namespace.evictIdle(Date.now() + 3_600_000)).toBeGreaterThanOrEqual(1)
    expect(namespace.liveCount()).toBe(1)
    expect(before).toBeGreaterThan(1)
    await pending
    expect(await stub(idle).increment()).toBe(2)
  })

  it('keeps an object with an open response stream in memory until the stream ends', async () => {
    const name = crypto.randomUUID()
    const response = (await stub(name).fetch('http://object/stream')) as Response
    namespace.evictIdle(Date.now() + 3_600_000)
    expect(namespace.liveCount()).toBe(1)
    expect(await response.text()).toBe('ready=1\n')
    namespace.evictIdle(Date.now() + 3_600_000)
    expect(namespace.liveCount()).toBe(0)
  })

  it('runs two objects with different ids in parallel', async () => {
    const [a, b] = [stub(crypto.randomUUID()), stub(crypto.randomUUID())]
    const [first, second] = (await Promise.all([a.slow(50), b.slow(50)])) as { start: number; end: number }[]
    // Each started before the other finished: neither waited for the other.
    expect(second?.start).toBeLessThan(first?.end ?? 0)
    expect(first?.start).toBeLessThan(second?.end ?? 0)
  })

  it('fires the alarm, retries it after a thrown handler, and clears it once it succeeds', async () => {
    const name = crypto.randomUUID()
    events.length = 0
    await stub(name).armAlarm(2)
    while (!events.includes('alarm retry=2')) await new Promise((resolve) => setTimeout(resolve, 10))
    expect(events).toEqual(['alarm retry=0', 'alarm retry=1', 'alarm retry=2'])
    while ((await stub(name).alarmAt()) !== null) await new Promise((resolve) => setTimeout(resolve, 10))
  })

  it('rearms a persisted alarm when the host starts again', async () => {
    const name = crypto.randomUUID()
    const id = namespace.idFromName(name)
    const other = new ObjectNamespace('Probe', Probe as never, {
      dir,
      open: openNodeDatabase,
      env: {},
      log: () => {},
    })
    const stubOf = other.get(id) as unknown as ProbeStub
    await stubOf.increment()
    // Persist an alarm, then drop the namespace as a crash would.
    await (other.get(id) as unknown as { armAlarm(n: number): Promise<void> }).armAlarm(0)
    events.length = 0
    other.closeAll()
    const restarted = new ObjectNamespace('Probe', Probe as never, {
      dir,
      open: openNodeDatabase,
      env: {},
      log: () => {},
    })
    restarted.rearmAlarms()
    while (!events.includes('alarm retry=0')) await new Promise((resolve) => setTimeout(resolve, 10))
    restarted.closeAll()
  })

  it('keeps a hibernated WebSocket and its attachment across eviction; a message wakes a new instance', async () => {
    const name = crypto.randomUUID()
    const response = (await stub(name).fetch('http://object/?user=ada')) as Response
    expect(response.status).toBe(101)
    const client = response.webSocket as unknown as HostWebSocket
    const sent: string[] = []
    client.attach({ send: (data) => sent.push(String(data)), close: () => {} })
    namespace.evictById(namespace.idFromName(name))
    client.received('hello')
    while (sent.length === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    expect(JSON.parse(sent[0] ?? '')).toEqual({ message: 'hello', attachment: { user: 'ada' } })
  })
})

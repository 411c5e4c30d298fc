// The embedded-replica endpoints of one server: a frame log per database that a replica asked for, and
// the three GET routes of the sync protocol (see replication.ts for the wire and its guarantees).
//
// Guarantees:
// - Every answer reflects all transactions committed before the request: the log captures new WAL
//   frames before answering info and sync.
// - A database gets a frame log on the first sync request (its generation 1 starts with the whole
//   file), and keeps it across restarts (its `-sync.json` is on disk; the log is reopened before the
//   next write is served). Databases no replica asked for are not logged (no second copy of their
//   pages): they are only checkpointed.
// - Databases written over Hrana are captured or checkpointed at least every 500 ms by the server's
//   timer (the engine's automatic checkpoints are off), so the WAL stays bounded without a replica asking.
// - "End of generation" is 400 {"generation": current}, the shape the client reads; other failures are
//   the server's usual JSON errors.

import fs from 'node:fs'
import type { ServerResponse } from 'node:http'
import Database from 'libsql'
import { HttpError, sendJson } from './http.ts'
import { FrameLog } from './replication.ts'

const FIRST_CUT_MS = 5000

export class ReplicaEndpoints {
  private readonly logs = new Map<string, FrameLog>()
  private readonly touched = new Set<string>()
  /** Namespaces whose log has its first generation (its first cut may have to wait for readers). */
  private readonly cut = new Set<string>()

  constructor(
    private readonly filePath: (namespace: string) => string,
    private readonly maxFrames: number,
  ) {}

  /** Called before a write request is served: a logged database's log is open before its WAL grows. */
  touch(namespace: string): void {
    this.touched.add(namespace)
    if (!this.logs.has(namespace) && fs.existsSync(`${this.filePath(namespace)}-sync.json`)) {
      try {
        this.log(namespace)
      } catch (error) {
        console.error(`libsql server: opening the frame log of ${namespace} failed`, error)
      }
    }
  }

  captureTouched(): void {
    for (const namespace of [...this.touched]) {
      this.touched.delete(namespace)
      try {
        if (this.logs.has(namespace)) this.log(namespace).capture()
        else checkpoint(this.filePath(namespace))
      } catch (error) {
        console.error(`libsql server: capturing frames of ${namespace} failed`, error)
      }
    }
  }

  async serve(res: ServerResponse, namespace: string, rest: string): Promise<void> {
    const log = this.log(namespace)
    if (!this.cut.has(namespace)) {
      await firstCut(log)
      this.cut.add(namespace)
    }
    if (rest === '/info') {
      sendJson(res, 200, JSON.stringify({ current_generation: log.generation }))
      return
    }
    const exp = /^\/export\/(\d{1,9})$/.exec(rest)
    if (exp) {
      const image = log.exportImage(Number(exp[1]))
      if (image === undefined) throw new HttpError('NOT_FOUND', `generation ${exp[1]} is not the current one`)
      res.writeHead(200, {
        'content-type': 'application/octet-stream',
        'content-length': String(image.length),
      })
      res.end(image)
      return
    }
    const sync = /^\/sync\/(\d{1,9})\/(\d{1,10})\/(\d{1,10})$/.exec(rest)
    if (!sync) throw new HttpError('NOT_FOUND', `no endpoint ${rest}`)
    const [generation, start, end] = [Number(sync[1]), Number(sync[2]), Number(sync[3])]
    const current = log.generation
    if (generation > current)
      throw new HttpError('INVALID_REQUEST', `generation ${generation} does not exist yet`)
    const frames = log.read(generation, start, end)
    if (frames === undefined) {
      sendJson(res, 400, JSON.stringify({ generation: current, message: 'end of generation' }))
      return
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-length': String(frames.length),
    })
    res.end(frames)
  }

  close(): void {
    for (const log of this.logs.values()) log.close()
    this.logs.clear()
  }

  private log(namespace: string): FrameLog {
    let log = this.logs.get(namespace)
    if (log === undefined) {
      log = new FrameLog(this.filePath(namespace), this.maxFrames)
      this.logs.set(namespace, log)
    }
    return log
  }
}

/**
 * A new log's first generation needs one complete checkpoint (its image is the database file): readers
 * still on older snapshots delay it, so it is retried for up to FIRST_CUT_MS before the request fails.
 */
async function firstCut(log: FrameLog): Promise<void> {
  const deadline = Date.now() + FIRST_CUT_MS
  for (;;) {
    try {
      log.capture()
      return
    } catch (error) {
      if (!/busy|locked/i.test(String(error)) || Date.now() > deadline) throw error
      await new Promise((resolve) => setTimeout(resolve, 25))
    }
  }
}

/** A passive checkpoint of a database without a frame log (nothing waits; busy frames stay for later). */
function checkpoint(file: string): void {
  if (!fs.existsSync(file)) return
  const db = new Database(file)
  try {
    db.exec('PRAGMA busy_timeout=0')
    db.prepare('PRAGMA wal_checkpoint(PASSIVE)').raw(true).get()
  } finally {
    db.close()
  }
}

// Frame log for embedded replicas: the SQLite pages each committed transaction wrote, in commit order,
// per generation, captured from the WAL file before the server checkpoints it.
//
// Wire (what @libsql/client 0.15+ with `syncUrl`, i.e. the libsql crate's sync protocol v2, asks):
//   GET  <db>/info                  → {"current_generation": g}   (a 2xx here selects protocol v2)
//   GET  <db>/export/<g>            → the database file at the start of generation g (a new replica)
//   GET  <db>/sync/<g>/<start>/<end> → frames [start, end) of generation g, 1-based, concatenated;
//                                     past the end: 400 {"generation": current}, and the replica then
//                                     checkpoints its own WAL and continues with generation g + 1.
//   A frame is a SQLite WAL frame: 24-byte header (page number, database size in pages after commit or
//   0, salts, checksums; big-endian) + one 4096-byte page. The replica writes frame n at position n of
//   its own WAL, closes a WAL transaction at each frame whose size is non-zero, and checks nothing else.
//   Writes from the replica are not frames: the client sends them over Hrana to the same URL.
//
// Guarantees:
// - Only committed transactions are logged: frames are read from the WAL file while holding the write
//   lock (BEGIN IMMEDIATE), accepted only if their salts match the WAL header and the cumulative
//   checksum chain verifies, and only up to the last commit frame. The log is fsynced before the
//   server checkpoints (PASSIVE, still under that lock), so a page reaches the database file only after
//   it is in the log. wal_autocheckpoint is 0 on every connection and this module holds a connection
//   open for the server's lifetime (no checkpoint-on-last-close), so nobody else backfills the WAL; the
//   WAL restarts (new salts) only after a complete backfill, hence only after everything was captured.
// - Generation g starts with one transaction holding every page of the database (its base image), then
//   the captured frames. A replica that starts generation g at frame 1 therefore ends up with exactly
//   the primary's pages whatever it held before. Every response ends at a commit frame, so a replica
//   never holds half a transaction between two pulls.
// - When a generation's log holds more than maxFrames frames after its image and the checkpoint was
//   complete, a new generation is cut (image read from the database file under the write lock) and
//   older logs are deleted. A replica in a pruned generation is told "end of generation" until it
//   reaches the current one, whose first transaction (the image) brings it up to date: one small
//   request per generation skipped, then one full copy.
// Cost: every committed page is written twice (WAL, then log) and fsynced once more per capture; the
// write lock is held while new frames are copied (writers retry SQLITE_BUSY meanwhile). Page size must
// be 4096 (the protocol's fixed frame size); other databases are refused.
// Not covered: a client running `PRAGMA wal_checkpoint` itself before a capture, or an engine process
// outliving a killed server and checkpointing on close, would skip frames: replicas then need a reset.

import fs from 'node:fs'
import Database from 'libsql'

export const PAGE_SIZE = 4096
export const FRAME_SIZE = PAGE_SIZE + 24
const WAL_HEADER = 32

interface Position {
  salt1: number
  salt2: number
  /** WAL frames (0-based count) already captured in this WAL file. */
  frames: number
  s1: number
  s2: number
}

interface Meta {
  generation: number
  /** Frames of the generation's first transaction (the base image). */
  imageFrames: number
  /** The WAL position the image covers (its frames must not be logged again). */
  position?: Position
}

export class FrameLog {
  private readonly writer: Database.Database
  private readonly checkpointer: Database.Database
  private meta: Meta | undefined
  private position: Position | undefined
  private logFrames = 0

  constructor(
    private readonly dbPath: string,
    private readonly maxFrames: number,
  ) {
    this.writer = open(dbPath)
    this.checkpointer = open(dbPath)
    const meta = readJson(`${dbPath}-sync.json`)
    if (meta !== undefined && fs.existsSync(this.logPath(meta.generation))) {
      this.meta = meta
      const log = this.logPath(meta.generation)
      // drop a torn tail: partial frames, then frames after the last commit frame
      let frames = Math.floor(fs.statSync(log).size / FRAME_SIZE)
      const fd = fs.openSync(log, 'r+')
      const header = Buffer.alloc(24)
      while (frames > 0) {
        fs.readSync(fd, header, 0, 24, (frames - 1) * FRAME_SIZE)
        if (header.readUInt32BE(4) !== 0) break
        frames--
      }
      fs.ftruncateSync(fd, frames * FRAME_SIZE)
      let last = meta.position
      if (frames > meta.imageFrames) {
        fs.readSync(fd, header, 0, 24, (frames - 1) * FRAME_SIZE)
        last = {
          salt1: header.readUInt32BE(8),
          salt2: header.readUInt32BE(12),
          frames: -1,
          s1: header.readUInt32BE(16),
          s2: header.readUInt32BE(20),
        }
      }
      fs.closeSync(fd)
      this.logFrames = frames
      if (last !== undefined) this.position = this.locate(last)
    }
  }

  /** Where a logged frame (salts + checksum) sits in the current WAL file; undefined if the WAL restarted. */
  private locate(last: Position): Position | undefined {
    if (last.frames === 0) return last
    this.position = undefined
    const { frames, position } = this.scanWal(true)
    if (position === undefined || position.salt1 !== last.salt1 || position.salt2 !== last.salt2)
      return undefined
    let { s1, s2 } = { s1: 0, s2: 0 }
    for (let n = 0; n < frames.length; n++) {
      s1 = frames[n]?.readUInt32BE(16) ?? 0
      s2 = frames[n]?.readUInt32BE(20) ?? 0
      if (s1 === last.s1 && s2 === last.s2)
        return { salt1: last.salt1, salt2: last.salt2, frames: n + 1, s1, s2 }
    }
    return undefined
  }

  get generation(): number {
    this.capture()
    return (this.meta as Meta).generation
  }

  /** Copies newly committed WAL frames into the log and checkpoints; cuts a generation when due. */
  capture(): void {
    const w = this.writer
    try {
      w.exec('BEGIN IMMEDIATE')
    } catch (error) {
      if (this.meta !== undefined && /busy|locked/i.test(String(error))) return // next time
      throw error
    }
    try {
      if (this.meta === undefined) this.position = undefined
      const { frames, position } = this.scanWal()
      if (this.meta !== undefined && frames.length > 0) {
        const fd = fs.openSync(this.logPath(this.meta.generation), 'a')
        fs.writeSync(fd, Buffer.concat(frames))
        fs.fsyncSync(fd)
        fs.closeSync(fd)
        this.logFrames += frames.length
      }
      this.position = position
      const row = this.checkpointer.prepare('PRAGMA wal_checkpoint(PASSIVE)').raw(true).get() as number[]
      const complete = Number(row[0]) === 0 && Number(row[1]) === Number(row[2])
      // frames logged after the image: a database larger than maxFrames pages is not cut on every capture
      if (this.meta === undefined || this.logFrames - this.meta.imageFrames > this.maxFrames) {
        if (complete) this.cut(w)
        else if (this.meta === undefined) throw new Error('database busy: retry the sync')
      }
    } finally {
      w.exec('ROLLBACK')
    }
  }

  /** Frames [start, end) of a generation (1-based), extended to end at a commit frame; undefined past the end. */
  read(generation: number, start: number, end: number): Buffer | undefined {
    const meta = this.meta
    if (meta === undefined || generation !== meta.generation || start < 1 || start > this.logFrames)
      return undefined
    const fd = fs.openSync(this.logPath(generation), 'r')
    try {
      const chunks: Buffer[] = []
      for (let n = start; n <= this.logFrames; n++) {
        const frame = Buffer.alloc(FRAME_SIZE)
        fs.readSync(fd, frame, 0, FRAME_SIZE, (n - 1) * FRAME_SIZE)
        chunks.push(frame)
        if (frame.readUInt32BE(4) !== 0 && n + 1 >= end) break
      }
      return Buffer.concat(chunks)
    } finally {
      fs.closeSync(fd)
    }
  }

  /** The database file at the start of the current generation. */
  exportImage(generation: number): Buffer | undefined {
    const meta = this.meta
    if (meta === undefined || generation !== meta.generation) return undefined
    const frames = this.read(generation, 1, meta.imageFrames + 1) as Buffer
    const pages = Buffer.alloc(meta.imageFrames * PAGE_SIZE)
    for (let i = 0; i < meta.imageFrames; i++) {
      const frame = frames.subarray(i * FRAME_SIZE, (i + 1) * FRAME_SIZE)
      frame.copy(pages, (frame.readUInt32BE(0) - 1) * PAGE_SIZE, 24)
    }
    return pages
  }

  close(): void {
    try {
      this.capture()
    } catch {
      // best effort: the next start captures what is left in the WAL
    }
    this.checkpointer.close()
    this.writer.close()
  }

  private logPath(generation: number): string {
    return `${this.dbPath}-sync-${generation}.log`
  }

  /** New generation: the database file (complete checkpoint, write lock held) as one transaction. */
  private cut(w: Database.Database): void {
    const count = Number((w.prepare('PRAGMA page_count').raw(true).get() as unknown[])[0])
    const pageSize = Number((w.prepare('PRAGMA page_size').raw(true).get() as unknown[])[0])
    if (pageSize !== PAGE_SIZE)
      throw new Error(`embedded replicas need page_size ${PAGE_SIZE}, not ${pageSize}`)
    const generation = (this.meta?.generation ?? 0) + 1
    const image = Buffer.alloc(count * FRAME_SIZE)
    const fd = fs.openSync(this.dbPath, 'r')
    for (let p = 1; p <= count; p++) {
      const at = (p - 1) * FRAME_SIZE
      image.writeUInt32BE(p, at)
      image.writeUInt32BE(p === count ? count : 0, at + 4)
      fs.readSync(fd, image, at + 24, PAGE_SIZE, (p - 1) * PAGE_SIZE)
    }
    fs.closeSync(fd)
    writeDurably(this.logPath(generation), image)
    const old = this.meta?.generation
    const meta: Meta = { generation, imageFrames: count, position: this.position }
    writeDurably(`${this.dbPath}-sync.json`, Buffer.from(JSON.stringify(meta)))
    this.meta = meta
    this.logFrames = count
    if (old !== undefined) fs.rmSync(this.logPath(old), { force: true })
  }

  /** New committed frames of the WAL file after the captured position (checksums verified). */
  private scanWal(all = false): { frames: Buffer[]; position: Position | undefined } {
    let fd: number
    try {
      fd = fs.openSync(`${this.dbPath}-wal`, 'r')
    } catch {
      return { frames: [], position: this.position }
    }
    try {
      const size = fs.fstatSync(fd).size
      const header = Buffer.alloc(WAL_HEADER)
      if (size < WAL_HEADER || fs.readSync(fd, header, 0, WAL_HEADER, 0) < WAL_HEADER)
        return { frames: [], position: this.position }
      const magic = header.readUInt32BE(0)
      if (magic !== 0x377f0682 && magic !== 0x377f0683) return { frames: [], position: this.position }
      const bigEndian = magic === 0x377f0683
      if (header.readUInt32BE(8) !== PAGE_SIZE)
        throw new Error(`embedded replicas need page_size ${PAGE_SIZE}, not ${header.readUInt32BE(8)}`)
      const salt1 = header.readUInt32BE(16)
      const salt2 = header.readUInt32BE(20)
      let pos = this.position
      if (all || pos === undefined || pos.salt1 !== salt1 || pos.salt2 !== salt2) {
        const [s1, s2] = checksum(bigEndian, header, 0, 24, 0, 0)
        if (s1 !== header.readUInt32BE(24) || s2 !== header.readUInt32BE(28))
          return { frames: [], position: pos }
        pos = { salt1, salt2, frames: 0, s1, s2 }
      }
      // only the frames after the captured position are read (the file keeps its largest size)
      const from = WAL_HEADER + pos.frames * FRAME_SIZE
      const tail = Buffer.alloc(Math.max(0, size - from))
      const got = tail.length === 0 ? 0 : fs.readSync(fd, tail, 0, tail.length, from)
      const frames: Buffer[] = []
      const pending: Buffer[] = []
      let committed = pos
      let { s1, s2 } = pos
      for (let i = 0; (i + 1) * FRAME_SIZE <= got; i++) {
        const at = i * FRAME_SIZE
        if (tail.readUInt32BE(at + 8) !== salt1 || tail.readUInt32BE(at + 12) !== salt2) break
        ;[s1, s2] = checksum(bigEndian, tail, at, 8, s1, s2)
        ;[s1, s2] = checksum(bigEndian, tail, at + 24, PAGE_SIZE, s1, s2)
        if (s1 !== tail.readUInt32BE(at + 16) || s2 !== tail.readUInt32BE(at + 20)) break
        pending.push(tail.subarray(at, at + FRAME_SIZE))
        if (tail.readUInt32BE(at + 4) !== 0) {
          frames.push(...pending.splice(0))
          committed = { salt1, salt2, frames: pos.frames + i + 1, s1, s2 }
        }
      }
      return { frames, position: committed }
    } finally {
      fs.closeSync(fd)
    }
  }
}

/** SQLite's WAL checksum: Fibonacci-weighted sums of 32-bit words. */
function checksum(bigEndian: boolean, buf: Buffer, at: number, length: number, a: number, b: number) {
  let s1 = a
  let s2 = b
  for (let i = at; i < at + length; i += 8) {
    const x0 = bigEndian ? buf.readUInt32BE(i) : buf.readUInt32LE(i)
    const x1 = bigEndian ? buf.readUInt32BE(i + 4) : buf.readUInt32LE(i + 4)
    s1 = (s1 + x0 + s2) >>> 0
    s2 = (s2 + x1 + s1) >>> 0
  }
  return [s1, s2] as const
}

function open(dbPath: string): Database.Database {
  const db = new Database(dbPath)
  db.exec('PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; PRAGMA busy_timeout=0')
  return db
}

function readJson(file: string): Meta | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Meta
  } catch {
    return undefined
  }
}

function writeDurably(file: string, data: Buffer): void {
  const tmp = `${file}.tmp`
  const fd = fs.openSync(tmp, 'w')
  fs.writeSync(fd, data)
  fs.fsyncSync(fd)
  fs.closeSync(fd)
  fs.renameSync(tmp, file)
}

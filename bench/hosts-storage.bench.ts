/**
 * The portable host's object storage layout, measured: one SQLite file per object (what
 * apps/host does) against one file per class with a table prefix per object. Workload:
 * create OBJECTS objects of one class, each creating its tables (the host's internal
 * key-value and alarm tables plus one of its own) and committing WRITES single-row
 * transactions, all on `node:sqlite` with WAL and synchronous=FULL (apps/host/sqlite.ts).
 * Reported: objects/s for create-and-write, the p50/p99 latency of one committed write,
 * files and bytes on disk, and file handles held while every object is open.
 * Ratios are per-class ÷ per-object in the same run.
 */
import { readdirSync, readlinkSync, rmSync, statSync } from 'node:fs'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { SqliteDatabase } from '../apps/host/sqlite'
import { openNodeDatabase } from '../apps/host/sqlite-node'
import { HostStorage } from '../apps/host/storage'
import { formatNumber, percentile, printTable } from './harness'

const OBJECTS = 300
const WRITES = 4
const ROW = 'x'.repeat(200)
const noAlarms = { alarmChanged() {} }

interface Layout {
  name: string
  /** Creates object `i` and returns a function committing one write to it. */
  create(i: number): (n: number) => void
  close(): void
}

function perObject(dir: string): Layout {
  const open: SqliteDatabase[] = []
  return {
    name: 'one file per object (default)',
    create(i) {
      const db = openNodeDatabase(join(dir, `${i.toString(16).padStart(64, '0')}.sqlite`))
      open.push(db)
      const storage = new HostStorage(db, noAlarms)
      storage.sql.exec('CREATE TABLE IF NOT EXISTS items (n INTEGER PRIMARY KEY, body TEXT NOT NULL)')
      return (n) => storage.transactionSync(() => storage.sql.exec('INSERT INTO items VALUES (?, ?)', n, ROW))
    },
    close: () => {
      for (const db of open) db.close()
    },
  }
}

function perClass(dir: string): Layout {
  const db = openNodeDatabase(join(dir, 'Class.sqlite'))
  return {
    name: 'one file per class, table prefix',
    create(i) {
      const prefix = `o${i}_`
      db.exec(`CREATE TABLE IF NOT EXISTS ${prefix}_host_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE IF NOT EXISTS ${prefix}_host_alarm (slot INTEGER PRIMARY KEY CHECK (slot = 0), at REAL NOT NULL);
        CREATE TABLE IF NOT EXISTS ${prefix}items (n INTEGER PRIMARY KEY, body TEXT NOT NULL);`)
      return (n) => {
        db.exec('BEGIN IMMEDIATE')
        db.query(`INSERT INTO ${prefix}items VALUES (?, ?)`, [n, ROW])
        db.exec('COMMIT')
      }
    },
    close: () => db.close(),
  }
}

/** File descriptors this process holds on files under `dir` (Linux: /proc/self/fd). */
function openHandles(dir: string): number {
  try {
    return readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(join('/proc/self/fd', fd)).startsWith(dir)
      } catch {
        return false
      }
    }).length
  } catch {
    return Number.NaN
  }
}

function diskUsage(dir: string): { files: number; bytes: number } {
  let files = 0
  let bytes = 0
  for (const name of readdirSync(dir)) {
    files++
    bytes += statSync(join(dir, name)).size
  }
  return { files, bytes }
}

async function measure(make: (dir: string) => Layout) {
  const dir = await mkdtemp(join(tmpdir(), 'hosts-storage-'))
  const layout = make(dir)
  const latencies: number[] = []
  const started = performance.now()
  for (let i = 0; i < OBJECTS; i++) {
    const write = layout.create(i)
    for (let n = 0; n < WRITES; n++) {
      const t = performance.now()
      write(n)
      latencies.push(performance.now() - t)
    }
  }
  const seconds = (performance.now() - started) / 1000
  const handles = openHandles(dir)
  layout.close()
  const disk = diskUsage(dir)
  rmSync(dir, { recursive: true, force: true })
  latencies.sort((a, b) => a - b)
  return {
    name: layout.name,
    objectsPerSec: OBJECTS / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    ...disk,
    handles,
  }
}

const results = [await measure(perObject), await measure(perClass)]
const base = results[0]
printTable(
  `Host storage layouts: ${OBJECTS} objects × ${WRITES} committed writes (WAL, synchronous=FULL)`,
  results.map((result) => ({
    layout: result.name,
    'objects/s': formatNumber(result.objectsPerSec),
    'write p50 ms': result.p50.toFixed(2),
    'write p99 ms': result.p99.toFixed(2),
    files: result.files,
    'disk KiB': formatNumber(result.bytes / 1024),
    'open handles': result.handles,
    'objects/s ÷ per-object': base ? `${(result.objectsPerSec / base.objectsPerSec).toFixed(2)}×` : '–',
    'p99 ÷ per-object': base ? `${(result.p99 / base.p99).toFixed(2)}×` : '–',
  })),
)

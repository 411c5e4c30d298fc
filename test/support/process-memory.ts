/**
 * Resident memory of a process tree's member, read from /proc (Linux): used by benchmarks and
 * tests to show that a server streams large bodies (its RSS stays near idle) rather than buffering them.
 * Costs: one /proc scan to find the process, one small file read per sample.
 */
import { readdirSync, readFileSync } from 'node:fs'

/** The pids of `root` and every descendant, from /proc/<pid>/stat. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {}
  }
  const out: number[] = []
  const queue = [root]
  while (queue.length > 0) {
    const pid = queue.shift() as number
    out.push(pid)
    queue.push(...(children.get(pid) ?? []))
  }
  return out
}

/** The first process named `name` under `root` (e.g. workerd under `wrangler dev`). */
export function findDescendant(root: number, name: string): number | undefined {
  return descendants(root).find((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === name
    } catch {
      return false
    }
  })
}

/** Resident set size of `pid` in bytes (VmRSS); 0 once it has exited. */
export function rssBytes(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return Number(match?.[1] ?? 0) * 1024
  } catch {
    return 0
  }
}

/** Resident memory of `root` and all its descendants, in bytes. */
export const treeRssBytes = (root: number): number =>
  descendants(root).reduce((total, pid) => total + rssBytes(pid), 0)

/** Runs `work` while sampling `pid`'s RSS every `everyMs`; returns the peak and the work's duration. */
export async function peakRss(
  pid: number,
  work: () => Promise<unknown>,
  everyMs = 50,
): Promise<{ peakBytes: number; seconds: number }> {
  let peak = rssBytes(pid)
  const timer = setInterval(() => {
    peak = Math.max(peak, rssBytes(pid))
  }, everyMs)
  const started = performance.now()
  try {
    await work()
  } finally {
    clearInterval(timer)
  }
  peak = Math.max(peak, rssBytes(pid))
  return { peakBytes: peak, seconds: (performance.now() - started) / 1000 }
}

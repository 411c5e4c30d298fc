/**
 * What keeps `npm run dev` from leaving orphans or trusting a port it does not own.
 *
 * - A watchdog: wrangler (and its workerd) run in a process group of their own, so a
 *   `kill -9` of the dev process would leave them serving. A small detached watchdog polls
 *   the dev process and stops that group as soon as the dev process is gone.
 * - A pid file (`dev.pid.json` beside wrangler's state): the next start stops a group the
 *   last run left behind (found by pid and checked by its command line), and refuses to
 *   start while another dev process of the same state directory is alive.
 * - A port check: a start refuses an API or libSQL port that something else listens on,
 *   instead of waiting for `/healthz` and taking another process's answer for its own.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'

export interface DevPids {
  /** The dev process (`scripts/dev.ts`). */
  pid: number
  /** wrangler's process group (wrangler and workerd). */
  group: number
  port: number
  libsqlPort: number
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ')
  } catch {
    return ''
  }
}

function killGroup(group: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-group, signal)
  } catch {
    // already gone
  }
}

async function stopGroup(group: number, waitMs = 5_000): Promise<void> {
  killGroup(group, 'SIGTERM')
  const deadline = Date.now() + waitMs
  while (alive(group) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
  killGroup(group, 'SIGKILL')
}

/** Resolves whether nothing listens on 127.0.0.1:port (by binding it for a moment). */
export function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolvePort) => {
    const server = createServer()
    server.once('error', () => resolvePort(false))
    server.listen({ port, host: '127.0.0.1', exclusive: true }, () => server.close(() => resolvePort(true)))
  })
}

/**
 * Before a start: stops what the last run of this state directory left behind, refuses a
 * second live dev process, and refuses ports in use. Throws an Error with the reason.
 */
export async function claimDevPorts(
  pidFile: string,
  ports: { port: number; libsqlPort: number },
): Promise<void> {
  if (existsSync(pidFile)) {
    let last: DevPids | undefined
    try {
      last = JSON.parse(readFileSync(pidFile, 'utf8')) as DevPids
    } catch {
      last = undefined
    }
    if (last && last.pid !== process.pid && alive(last.pid) && /dev\.ts/.test(commandLine(last.pid))) {
      throw new Error(`npm run dev is already running (pid ${last.pid}, port ${last.port}); stop it first.`)
    }
    if (
      last &&
      alive(last.group) &&
      /wrangler|workerd|host-(node|bun|deno)\.mjs/.test(commandLine(last.group))
    ) {
      console.log(`stopping wrangler left behind by an earlier run (process group ${last.group})`)
      await stopGroup(last.group)
    }
    rmSync(pidFile, { force: true })
  }
  for (const [name, port] of [
    ['API', ports.port],
    ['libSQL', ports.libsqlPort],
  ] as const) {
    if (!(await portIsFree(port))) {
      throw new Error(
        `The ${name} port ${port} is in use by another process; stop it or choose another port.`,
      )
    }
  }
}

/** After wrangler started: records the pids and starts the watchdog. */
export function guardDevProcess(
  pidFile: string,
  wrangler: ChildProcess,
  ports: { port: number; libsqlPort: number },
) {
  if (!wrangler.pid) return
  const pids: DevPids = { pid: process.pid, group: wrangler.pid, ...ports }
  writeFileSync(pidFile, JSON.stringify(pids))
  const watchdog = `
    const [parent, group] = process.argv.slice(1).map(Number)
    const alive = (pid) => { try { process.kill(pid, 0); return true } catch (e) { return e.code === 'EPERM' } }
    const stop = (signal) => { try { process.kill(-group, signal) } catch {} }
    setInterval(() => {
      if (!alive(group)) process.exit(0)
      if (alive(parent)) return
      stop('SIGTERM')
      setTimeout(() => { stop('SIGKILL'); process.exit(0) }, 3000)
    }, 250)
  `
  spawn(process.execPath, ['-e', watchdog, String(process.pid), String(wrangler.pid)], {
    detached: true,
    stdio: 'ignore',
  }).unref()
}

/** On a clean stop: the pid file goes. */
export function releaseDevPorts(pidFile: string): void {
  try {
    const recorded = JSON.parse(readFileSync(pidFile, 'utf8')) as DevPids
    if (recorded.pid === process.pid) rmSync(pidFile, { force: true })
  } catch {
    // no pid file
  }
}

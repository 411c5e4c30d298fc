/**
 * A real Prometheus (Debian's `prometheus` package) for end-to-end tests: started with the
 * given configuration in a temporary directory, on a free port below the ephemeral range,
 * and returned once it answers `/-/ready`. `stop` kills it and removes the directory.
 */
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../../scripts/free-port'

export interface RunningPrometheus {
  url: string
  stop(): void
}

export async function startPrometheus(config: string, extraArgs: string[] = []): Promise<RunningPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'edgeblocks-prometheus-'))
  writeFileSync(join(dir, 'prometheus.yml'), config)
  const port = await freePort()
  const url = `http://127.0.0.1:${port}`
  const prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      ...extraArgs,
    ],
    { stdio: 'ignore' },
  )
  for (let i = 0; i < 100; i++) {
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    )
    if (ready) break
    await new Promise((r) => setTimeout(r, 200))
  }
  return {
    url,
    stop() {
      prometheus.kill()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

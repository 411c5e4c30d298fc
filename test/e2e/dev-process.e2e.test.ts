/**
 * `npm run dev` as a process: a `kill -9` leaves nothing serving its ports (the watchdog
 * stops wrangler and workerd), and a start refuses a port another process holds instead of
 * taking that process's `/healthz` answer for its own.
 */
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { portIsFree } from '../../scripts/dev-guard'
import { devProcessArgs, freePort, type RunningPlatform, startPlatform } from '../../scripts/platform-process'

async function eventually(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return true
    await new Promise((r) => setTimeout(r, 200))
  }
  return check()
}

let platform: RunningPlatform | undefined
afterAll(async () => {
  await platform?.stop()
})

describe('npm run dev', () => {
  it('refuses an API port that another process holds, and leaves that process alone', async () => {
    const port = await freePort()
    const squatter: Server = createServer((_request, response) => response.end('{"status":"ok"}'))
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve))
    const dir = await mkdtemp(join(tmpdir(), 'edgeblocks-dev-'))
    try {
      const child = spawn(
        process.execPath,
        devProcessArgs(dir, port, await freePort(), [await freePort(), await freePort(), await freePort()]),
        {
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      let output = ''
      child.stdout.on('data', (chunk) => {
        output += chunk
      })
      child.stderr.on('data', (chunk) => {
        output += chunk
      })
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
      expect(code).toBe(1)
      expect(output).toContain(`The API port ${port} is in use by another process`)
      expect(output).not.toContain('edgeblocks is running')
      expect(await (await fetch(`http://127.0.0.1:${port}/`)).text()).toBe('{"status":"ok"}')
    } finally {
      squatter.close()
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('leaves no wrangler or workerd serving after a kill -9 of the dev process', async () => {
    platform = await startPlatform()
    const { port } = new URL(platform.url)
    const libsqlPort = new URL(platform.libsqlUrl).port
    expect((await fetch(`${platform.url}/healthz`)).status).toBe(200)
    process.kill(platform.pid, 'SIGKILL')
    expect(await eventually(() => portIsFree(Number(port)), 20_000)).toBe(true)
    expect(await portIsFree(Number(libsqlPort))).toBe(true)
    await expect(fetch(`${platform.url}/healthz`)).rejects.toThrow()
  })
})

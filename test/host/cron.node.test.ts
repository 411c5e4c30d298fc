/**
 * Cron Triggers on the host: wrangler.toml's `[triggers] crons` are read as data, and an
 * injected clock fires the Worker's `scheduled()` at exactly the matching minutes (UTC),
 * with the controller's `cron` and `scheduledTime`, its `waitUntil` awaited. No sleeps.
 */
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type CronClock, CronTriggers } from '../../apps/host/cron'
import { createHost } from '../../apps/host/host'
import { openNodeDatabase } from '../../apps/host/sqlite-node'
import { wranglerConfig } from '../../apps/host/wrangler-config'

/** A manual clock: `advance` runs every timer that falls due, in time order. */
function manualClock(start: number) {
  let now = start
  let timers: { at: number; run: () => void; id: number }[] = []
  let ids = 0
  const clock: CronClock & { advance(ms: number): Promise<void> } = {
    now: () => now,
    setTimer(run, ms) {
      const id = ids++
      timers.push({ at: now + ms, run, id })
      return () => {
        timers = timers.filter((timer) => timer.id !== id)
      }
    },
    async advance(ms) {
      const end = now + ms
      while (true) {
        const next = timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0]
        if (!next) break
        timers = timers.filter((timer) => timer !== next)
        now = next.at
        next.run()
        await Promise.resolve()
      }
      now = end
    },
  }
  return clock
}

const T0 = Date.UTC(2026, 0, 1, 10, 2, 30)

describe('CronTriggers', () => {
  it('fires each expression at its matching minutes and not between them', async () => {
    const clock = manualClock(T0)
    const fired: [string, string][] = []
    const triggers = new CronTriggers(
      ['*/5 * * * *', '0 11 * * *'],
      async (cron, at) => void fired.push([cron, new Date(at).toISOString()]),
      clock,
    )
    triggers.start()
    await clock.advance(2 * 60 * 1000)
    expect(fired).toEqual([])
    await clock.advance(60 * 60 * 1000)
    // Two expressions due at the same minute both fire; their order is not specified.
    const byTime = (a: [string, string], b: [string, string]) =>
      a[1].localeCompare(b[1]) || a[0].localeCompare(b[0])
    expect(fired.sort(byTime)).toEqual([
      ['*/5 * * * *', '2026-01-01T10:05:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:10:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:15:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:20:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:25:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:30:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:35:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:40:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:45:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:50:00.000Z'],
      ['*/5 * * * *', '2026-01-01T10:55:00.000Z'],
      ['*/5 * * * *', '2026-01-01T11:00:00.000Z'],
      ['0 11 * * *', '2026-01-01T11:00:00.000Z'],
    ])
    triggers.stop()
    await clock.advance(60 * 60 * 1000)
    expect(fired).toHaveLength(13)
  })

  it('keeps firing after a handler fails, and reports the failure', async () => {
    const clock = manualClock(T0)
    const logged: string[] = []
    let calls = 0
    const triggers = new CronTriggers(
      ['* * * * *'],
      async () => {
        calls++
        throw new Error('boom')
      },
      clock,
      (message) => logged.push(message),
    )
    triggers.start()
    await clock.advance(3 * 60 * 1000)
    await Promise.resolve()
    expect(calls).toBe(3)
    expect(logged).toEqual(Array(3).fill('scheduled() for "* * * * *" failed'))
    triggers.stop()
  })

  it('refuses expressions Cloudflare refuses: bad syntax and a seconds field', () => {
    const fire = async () => {}
    expect(() => new CronTriggers(['61 * * * *'], fire)).toThrow(/crons: "61 \* \* \* \*"/)
    expect(() => new CronTriggers(['*/10 * * * * *'], fire)).toThrow(/five fields/)
    expect(new CronTriggers(['@hourly', '0 0 L * *'], fire).nextTimes(T0)).toEqual([
      { cron: '@hourly', at: Date.UTC(2026, 0, 1, 11) },
      { cron: '0 0 L * *', at: Date.UTC(2026, 0, 31) },
    ])
  })
})

describe("the host's scheduled()", () => {
  it('reads [triggers] crons from wrangler.toml and runs the Worker handler with its env on the clock', async () => {
    const config = wranglerConfig(`
name = "w"
[triggers]
crons = [
  "*/15 * * * *", # every quarter hour
]
[[durable_objects.bindings]]
name = "THINGS"
class_name = "Thing"
`)
    expect(config.crons).toEqual(['*/15 * * * *'])
    const runs: { cron: string; at: string; env: boolean; finished: boolean }[] = []
    class Thing {
      ping() {
        return 'pong'
      }
    }
    const worker = {
      Thing,
      default: {
        async scheduled(
          controller: { cron: string; scheduledTime: number },
          env: Record<string, { getByName(name: string): { ping(): Promise<string> } }>,
          ctx: { waitUntil(promise: Promise<unknown>): void },
        ) {
          const run = {
            cron: controller.cron,
            at: new Date(controller.scheduledTime).toISOString(),
            env: false,
            finished: false,
          }
          runs.push(run)
          ctx.waitUntil(
            (async () => {
              run.env = (await env.THINGS?.getByName('a').ping()) === 'pong'
              run.finished = true
            })(),
          )
        },
      },
    }
    const clock = manualClock(T0)
    const host = createHost({
      ...config,
      worker,
      vars: {},
      dataDir: mkdtempSync(join(tmpdir(), 'host-cron-')),
      open: openNodeDatabase,
      clock,
    })
    try {
      await clock.advance(30 * 60 * 1000)
      await new Promise((resolve) => setImmediate(resolve))
      expect(runs).toEqual([
        { cron: '*/15 * * * *', at: '2026-01-01T10:15:00.000Z', env: true, finished: true },
        { cron: '*/15 * * * *', at: '2026-01-01T10:30:00.000Z', env: true, finished: true },
      ])
      await host.scheduled('*/15 * * * *', T0)
      expect(runs.at(-1)).toEqual({
        cron: '*/15 * * * *',
        at: new Date(T0).toISOString(),
        env: true,
        finished: true,
      })
    } finally {
      host.close()
    }
  })
})

/**
 * Read-through and write-through, done by the Worker around a request's commands:
 * - write-through: before the commands run, the string changes they make (SET, MSET, DEL,
 *   UNLINK, GETDEL) are written to the backing source in one batch; if the source refuses,
 *   the request fails with `ERR backing source …` and the cache is not touched.
 * - read-through: a GET that missed takes the key's lease (commands/leases.ts), so of many
 *   concurrent misses one reads the source and stores the value with LEASESET (never over
 *   a newer write: a write revokes the lease) for `readTtlSeconds`; the others wait for it.
 *   A waiter that finds the lease free and the key still absent takes the holder's word
 *   that the source has nothing; after READ_WAIT_POLLS polls it reads the source itself.
 * Write-behind is the node's (write-behind.ts). Commands other than those listed are not
 * mirrored by write-through; use write-behind to capture every string change.
 */
import type { BackingConfig, BackingSource, Change } from './backing'
import type { NodeClient } from './cluster-client'
import type { Outcome } from './commands'
import { nodeOf } from './placement'

export interface BackingSettings {
  source: BackingConfig
  readThrough: boolean
  readTtlSeconds: number
  write: 'none' | 'through' | 'behind'
}

export function changesOf(commands: string[][]): Change[] {
  const changes: Change[] = []
  for (const [name, ...args] of commands) {
    const command = name?.toUpperCase()
    if (command === 'SET' && args.length >= 2)
      changes.push({ key: args[0] as string, value: args[1] as string })
    else if (command === 'MSET' && args.length % 2 === 0)
      for (let i = 0; i < args.length; i += 2)
        changes.push({ key: args[i] as string, value: args[i + 1] as string })
    else if (command === 'DEL' || command === 'UNLINK')
      for (const key of args) changes.push({ key, value: null })
    else if (command === 'GETDEL' && args.length === 1) changes.push({ key: args[0] as string, value: null })
  }
  return changes
}

export async function writeThrough(source: BackingSource, commands: string[][]): Promise<void> {
  const changes = changesOf(commands)
  if (changes.length > 0) await source.write(changes)
}

export const READ_LEASE_MS = 5_000
export const READ_WAIT_POLLS = 40
const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** One missed GET, read through the source under the key's lease. */
export async function readThroughKey(
  source: BackingSource,
  client: NodeClient,
  node: number,
  key: string,
  ttlSeconds: number,
  wait: (ms: number) => Promise<void> = pause,
): Promise<string | null> {
  let waited = false
  for (let poll = 0; poll < READ_WAIT_POLLS; poll++) {
    const [outcome] = await client.run(node, [['LEASEGET', key, String(READ_LEASE_MS)]])
    if (!outcome || 'error' in outcome) break
    const [status, value, token] = outcome.result as [string, string | null, string | null]
    if (status === 'hit' || status === 'stale') return value
    if (token) {
      if (waited) {
        await client.run(node, [['LEASEDROP', key, token]])
        return null
      }
      let found: string | null
      try {
        found = await source.get(key)
      } catch (error) {
        await client.run(node, [['LEASEDROP', key, token]])
        throw error
      }
      await client.run(node, [
        found === null
          ? ['LEASEDROP', key, token]
          : ['LEASESET', key, token, found, 'EX', String(ttlSeconds)],
      ])
      return found
    }
    waited = true
    await wait(25)
  }
  return source.get(key)
}

/** Fills GET misses from the source; returns the outcomes with the values found. */
export async function readThrough(
  source: BackingSource,
  client: NodeClient,
  nodes: number,
  ttlSeconds: number,
  commands: string[][],
  outcomes: Outcome[],
): Promise<Outcome[]> {
  return Promise.all(
    outcomes.map(async (outcome, i) => {
      const [name, key] = commands[i] as string[]
      if (
        name?.toUpperCase() !== 'GET' ||
        key === undefined ||
        !('result' in outcome) ||
        outcome.result !== null
      )
        return outcome
      return { result: await readThroughKey(source, client, nodeOf(key, nodes), key, ttlSeconds) }
    }),
  )
}

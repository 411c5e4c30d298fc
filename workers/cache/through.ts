/**
 * Read-through and write-through, done by the Worker around a request's commands:
 * - write-through: before the commands run, the string changes they make (SET, MSET, DEL,
 *   UNLINK, GETDEL) are written to the backing source in one batch; if the source refuses,
 *   the request fails with `ERR backing source …` and the cache is not touched.
 * - read-through: a GET that missed is looked up in the source; a value found is stored
 *   with `SET key value EX readTtlSeconds NX` (never over a newer write) and returned.
 * Write-behind is the node's (write-behind.ts). Commands other than those listed are not
 * mirrored by write-through; use write-behind to capture every string change.
 */
import type { BackingConfig, BackingSource, Change } from './backing'
import type { NodeClient } from './cluster'
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
      const value = await source.get(key)
      if (value === null) return outcome
      await client.run(nodeOf(key, nodes), [['SET', key, value, 'EX', String(ttlSeconds), 'NX']])
      return { result: value }
    }),
  )
}

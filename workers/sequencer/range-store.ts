/**
 * The database side of range allocation: a generator's counter is the registry row
 * (tenant, `sequence-range`, generator name) whose config is `{ "next": <first unleased> }`.
 * Leasing N numbers is ONE atomic statement that adds N and returns the new value, so two
 * leases can never overlap however many generators share the row. The row is created on
 * first use; a concurrent creation (409) just means someone else created it first.
 * The statement refuses to pass 2^53 - 1, so numbers stay exact in JSON and JavaScript.
 */
import { database } from '../platform/db'
import type { Env } from '../platform/env'
import { AppError } from '../platform/errors'
import { createResource, findResource } from '../platform/registry'
import { blockEndingAt, FIRST_RANGE_NUMBER, type LeasedBlock } from './ranges'

export const RANGE_RESOURCE_KIND = 'sequence-range'

export interface RangeCounterConfig {
  /** The first number not yet leased. */
  next: number
}

const LEASE_SQL = `UPDATE resources
SET config = json_set(config, '$.next', json_extract(config, '$.next') + ?),
    version = version + 1,
    updated_at = ?
WHERE tenant = ? AND kind = ? AND name = ? AND json_extract(config, '$.next') + ? <= ?
RETURNING config`

/** Leases `size` numbers of the counter `name` of `tenant`: the block [start, end) it bought. */
export async function leaseRangeBlock(
  env: Env,
  tenant: string,
  name: string,
  size: number,
  nowMs = Date.now(),
): Promise<LeasedBlock> {
  const client = database(env).$client
  for (let attempt = 0; attempt < 2; attempt++) {
    const result = await client.execute({
      sql: LEASE_SQL,
      args: [size, nowMs, tenant, RANGE_RESOURCE_KIND, name, size, Number.MAX_SAFE_INTEGER],
    })
    const row = result.rows[0]
    if (row) {
      const config = JSON.parse(String(row.config)) as RangeCounterConfig
      return blockEndingAt(config.next, size)
    }
    if (await findResource(env, tenant, RANGE_RESOURCE_KIND, name)) {
      throw new AppError('conflict', `The range counter "${name}" cannot issue ${size} more numbers.`)
    }
    try {
      const initial: RangeCounterConfig = { next: FIRST_RANGE_NUMBER }
      await createResource(env, tenant, RANGE_RESOURCE_KIND, name, initial, nowMs)
    } catch (error) {
      if (!(error instanceof AppError && error.code === 'conflict')) throw error
    }
  }
  throw new Error(`The range counter "${name}" vanished while it was being leased from`)
}

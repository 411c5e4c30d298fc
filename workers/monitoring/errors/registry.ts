/**
 * `ErrorProjects`: one per tenant (`<tenant>:monitoring-errors:projects`), the ids and names
 * of the tenant's client-side error projects. Ids are whole numbers (Sentry SDKs accept
 * only numeric project ids in a DSN), handed out in order and never reused.
 */
import { ERRORS_LIMITS } from '../../../schemas/monitoring-errors'
import type { Env } from '../../platform/env'
import { AppError } from '../../platform/errors'
import { HostedObject } from '../../platform/hosted-object'
import { objectStub } from '../../platform/tenancy'

declare global {
  namespace Cloudflare {
    interface Env {
      ERROR_PROJECTS: DurableObjectNamespace<ErrorProjects>
    }
  }
}

export const errorProjects = (env: Env, tenant: string) =>
  objectStub(env.ERROR_PROJECTS, tenant, 'monitoring-errors', 'projects')

/** The tenant's project ids and names. */
export class ErrorProjects extends HostedObject<Env> {
  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env)
    void ctx.blockConcurrencyWhile(async () => {
      ctx.storage.sql.exec(
        'CREATE TABLE IF NOT EXISTS projects (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE)',
      )
    })
  }

  async create(name: string): Promise<string> {
    return this.ctx.storage.transactionSync(() => {
      const sql = this.ctx.storage.sql
      if (sql.exec('SELECT 1 FROM projects WHERE name = ?', name).toArray().length > 0)
        throw new AppError('conflict', `A project named ${name} exists.`)
      if (sql.exec<{ n: number }>('SELECT count(*) AS n FROM projects').one().n >= ERRORS_LIMITS.maxProjects)
        throw new AppError('conflict', `At most ${ERRORS_LIMITS.maxProjects} projects per tenant.`)
      return String(
        sql.exec<{ id: number }>('INSERT INTO projects (name) VALUES (?) RETURNING id', name).one().id,
      )
    })
  }

  async rename(id: string, name: string): Promise<void> {
    const sql = this.ctx.storage.sql
    if (sql.exec('SELECT 1 FROM projects WHERE name = ? AND id != ?', name, Number(id)).toArray().length > 0)
      throw new AppError('conflict', `A project named ${name} exists.`)
    if (sql.exec('UPDATE projects SET name = ? WHERE id = ?', name, Number(id)).rowsWritten === 0)
      throw new AppError('not_found', `No project ${id}.`)
  }

  async ids(): Promise<string[]> {
    return this.ctx.storage.sql
      .exec<{ id: number }>('SELECT id FROM projects ORDER BY id')
      .toArray()
      .map((r) => String(r.id))
  }

  async has(id: string): Promise<boolean> {
    return this.ctx.storage.sql.exec('SELECT 1 FROM projects WHERE id = ?', Number(id)).toArray().length > 0
  }

  async remove(id: string): Promise<void> {
    if (this.ctx.storage.sql.exec('DELETE FROM projects WHERE id = ?', Number(id)).rowsWritten === 0)
      throw new AppError('not_found', `No project ${id}.`)
  }
}

/** The Hono env of an authenticated route: the Worker's bindings and the verified `principal`. */
import type { Env } from '../env'
import type { Principal } from './token'

export interface AuthVariables {
  principal: Principal
}

export type AuthEnv = { Bindings: Env; Variables: AuthVariables }

/**
 * Durable Object RPC without crash noise for expected errors.
 *
 * workerd logs every exception that leaves an RPC method as an uncaught error with its
 * stack, so an `AppError` (a 404, a 409: normal answers) thrown inside an object would
 * read like a crash. Objects therefore extend `HostedObject`, whose single entry point
 * `invoke(method, args)` runs the method and returns a result union: `{ ok }` or
 * `{ appError }` (the error's wire text). Stubs made by `hostedStub` (and `objectStub` in
 * tenancy.ts) look like ordinary typed stubs, call `invoke` underneath and throw the same
 * AppError on the caller's side. Anything else still crosses as an exception, and is
 * logged, because it is one. Calls inside an object, and tests that call an instance
 * directly, are untouched: only the RPC entry point converts.
 *
 * Cost: nothing per call beyond one small wrapper object and one counter update (the call
 * counted by object kind and method in runtime-metrics.ts, for `/metrics`); no promise pipelining through
 * these stubs (every call is awaited as a whole, as the blocks do anyway).
 */
import { DurableObject } from 'cloudflare:workers'
import { AppError, expectedAppError } from './errors'
import { objectKind, recordObjectCall } from './runtime-metrics'

export type RpcResult = { ok: unknown } | { appError: string }

interface Invoker {
  invoke(method: string, args: unknown[]): Promise<RpcResult>
}

/** Names a stub keeps as they are: the object's own fetch, the stub's id and name, disposal. */
const PASS_THROUGH = new Set([
  'fetch',
  'connect',
  'id',
  'name',
  'invoke',
  'then',
  'dup',
  'constructor',
  'toJSON',
])

/** The base class of every block's Durable Object. */
export class HostedObject<Env = unknown> extends DurableObject<Env> {
  /** The RPC entry point `hostedStub` calls: an AppError comes back as a value, not a throw. */
  async invoke(method: string, args: unknown[]): Promise<RpcResult> {
    const target = (this as unknown as Record<string, unknown>)[method]
    if (PASS_THROUGH.has(method) || typeof target !== 'function') {
      return { appError: new AppError('internal', `No RPC method "${method}".`).message }
    }
    try {
      return { ok: await target.apply(this, args) }
    } catch (error) {
      const expected = expectedAppError(error)
      if (expected && expected.code !== 'internal') return { appError: expected.message }
      throw error
    }
  }
}

/** A stub of the named object that throws AppErrors from `invoke` results on this side. */
export function hostedStub<T extends Rpc.DurableObjectBranded | undefined>(
  namespace: DurableObjectNamespace<T>,
  name: string,
): DurableObjectStub<T> {
  return wrapStub(namespace.get(namespace.idFromName(name)), objectKind(name))
}

/** Wraps a stub so each method call goes through the object's `invoke`. */
export function wrapStub<S extends object>(stub: S, kind = 'other'): S {
  return new Proxy(stub, {
    get(target, property) {
      const value = (target as Record<PropertyKey, unknown>)[property]
      if (typeof property !== 'string' || PASS_THROUGH.has(property)) {
        // The stub's own methods run against the stub; `constructor` stays the class itself.
        return typeof value === 'function' && property !== 'constructor' ? value.bind(target) : value
      }
      return async function hostedCall(...args: unknown[]) {
        const started = performance.now()
        let result: RpcResult
        try {
          result = await (target as unknown as Invoker).invoke(property, args)
        } finally {
          recordObjectCall(kind, property, (performance.now() - started) / 1000)
        }
        if ('appError' in result)
          throw expectedAppError(new Error(result.appError)) ?? new Error(result.appError)
        return result.ok
      }
    },
  })
}

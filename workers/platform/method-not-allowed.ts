/**
 * Tells a wrong method (405 with `Allow`) from an unknown path (404). Hono answers both
 * with "not found"; this keeps a second router over the app's routes keyed by path only
 * and asks it which methods would have matched. Built once per app, on the first miss.
 */
import type { Hono } from 'hono'
import { RegExpRouter } from 'hono/router/reg-exp-router'
import { SmartRouter } from 'hono/router/smart-router'
import { TrieRouter } from 'hono/router/trie-router'

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

export function allowedMethodsFinder(app: Hono<never>): (path: string) => string[] {
  let router: SmartRouter<true> | undefined
  return function allowedMethods(path) {
    if (!router) {
      router = new SmartRouter<true>({ routers: [new RegExpRouter(), new TrieRouter()] })
      for (const route of app.routes) {
        if (route.method !== 'ALL') router.add(route.method, route.path, true)
      }
    }
    const found = router
    const allowed = METHODS.filter((method) => found.match(method, path)[0].length > 0)
    if (allowed.includes('GET') && !allowed.includes('HEAD')) allowed.splice(1, 0, 'HEAD')
    return allowed
  }
}

/**
 * Vitest global setup (runs in Node): starts the origin farm (test/support/origin-farm.ts),
 * the control server through which load balancer and CDN tests inside workerd start, stop
 * and inspect real node:http origins on 127.0.0.1, and provides its URL.
 */
import type { TestProject } from 'vitest/node'
import { startOriginFarm } from '../support/origin-farm'

declare module 'vitest' {
  export interface ProvidedContext {
    originFarmUrl: string
  }
}

export default async function setup(project: TestProject) {
  const farm = await startOriginFarm()
  project.provide('originFarmUrl', farm.url)
  return () => farm.close()
}

/** The gateway's settings in the platform configuration: parsed, validated, defaulted. */
import { describe, expect, it } from 'vitest'
import { parseDurationMs } from '../../schemas/common'
import { readConfig } from '../../workers/platform/config'
import type { Env } from '../../workers/platform/env'

const secrets = { JWT_SECRET: 'x'.repeat(32), ROOT_KEY: 'y'.repeat(16) }
const configOf = (settings: Record<string, string>) => readConfig({ ...secrets, ...settings } as Env)

describe('gateway settings', () => {
  it('default to 6000/60s per tenant and 600/60s per address, with no overrides', () => {
    expect(configOf({})).toMatchObject({
      gatewayTenantLimit: { limit: 6000, periodMs: 60_000 },
      gatewayTenantOverrides: {},
      gatewayIpLimit: { limit: 600, periodMs: 60_000 },
    })
  })

  it('parse rates, overrides and off', () => {
    const config = configOf({
      GATEWAY_TENANT_LIMIT: '100/1s',
      GATEWAY_TENANT_OVERRIDES: '{"big":"60000/60s","internal":"off"}',
      GATEWAY_IP_LIMIT: 'off',
    })
    expect(config.gatewayTenantLimit).toEqual({ limit: 100, periodMs: 1000 })
    expect(config.gatewayTenantOverrides).toEqual({
      big: { limit: 60_000, periodMs: 60_000 },
      internal: 'off',
    })
    expect(config.gatewayIpLimit).toBe('off')
  })

  it.each([
    ['GATEWAY_TENANT_LIMIT', '0/60s'],
    ['GATEWAY_TENANT_LIMIT', '6000'],
    ['GATEWAY_TENANT_LIMIT', '6000/60'],
    ['GATEWAY_TENANT_LIMIT', '2000000/60s'],
    ['GATEWAY_IP_LIMIT', '10/8d'],
    ['GATEWAY_IP_LIMIT', '10/0s'],
    ['GATEWAY_TENANT_OVERRIDES', 'not json'],
    ['GATEWAY_TENANT_OVERRIDES', '{"Big Tenant":"10/1s"}'],
    ['GATEWAY_TENANT_OVERRIDES', '{"big":"lots"}'],
    ['GATEWAY_TENANT_OVERRIDES', '["10/1s"]'],
  ])('reject %s=%s loudly', (name, value) => {
    expect(() => configOf({ [name]: value })).toThrow(new RegExp(`Invalid configuration: ${name}`))
  })

  it('durations take ms, s, m, h and d', () => {
    expect(['1500ms', '90s', '5m', '2h', '1d', '1w', '1.5s', ''].map(parseDurationMs)).toEqual([
      1500,
      90_000,
      300_000,
      7_200_000,
      86_400_000,
      undefined,
      undefined,
      undefined,
    ])
  })
})

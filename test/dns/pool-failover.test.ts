/**
 * Failover fed by the load balancer: a failover record names a pool of the zone's owner and
 * the answer follows the pool's live health, driven here by the pool's own monitor (its
 * alarm fired against a real origin that goes down and comes back).
 */
import { describe, expect, it } from 'vitest'
import { call, tokenFor } from '../helpers'
import { advance, lbClient, startOrigin } from '../lb/support'
import { type Packet, query, uniqueZone } from './support'

const datas = (packet: Packet) => (packet.answers ?? []).map((a) => (a as { data: unknown }).data)

interface RRsetItem {
  name: string
  records: Array<{ content: string; pool?: string; healthy?: boolean }>
}

describe('failover by load balancer pool health', () => {
  it('answers the secondary while the pool is down and the primary again when it recovers', async () => {
    const lb = await lbClient()
    const origin = await startOrigin('dns-pool')
    await lb.setup('web', [origin], {
      monitor: { path: '/health', intervalSeconds: 10, healthyThreshold: 1, unhealthyThreshold: 1 },
    })
    const token = await tokenFor(lb.tenant, ['dns:read', 'dns:write'])
    const zone = uniqueZone('pool')
    expect((await call(`/v1/dns/zones/${zone}`, { method: 'PUT', token, body: {} })).status).toBe(201)
    const patched = await call(`/v1/dns/zones/${zone}`, {
      method: 'PATCH',
      token,
      body: {
        rrsets: [
          {
            name: 'app',
            type: 'A',
            ttl: 30,
            changetype: 'REPLACE',
            policy: { kind: 'failover' },
            records: [
              { content: '192.0.2.10', role: 'primary', pool: 'web' },
              { content: '192.0.2.20', role: 'secondary' },
            ],
          },
        ],
      },
    })
    expect(patched.status, JSON.stringify(patched.body)).toBe(200)
    const listed = async () =>
      (await call<{ items: RRsetItem[] }>(`/v1/dns/zones/${zone}/rrsets?name=app.${zone}&type=A`, { token }))
        .body.items[0]?.records

    await advance(lb.tenant, 'web', 10_000)
    expect((await lb.health('web')).state).toBe('up')
    expect(datas(await query(`app.${zone}`, 'A', { rd: false }))).toEqual(['192.0.2.10'])
    expect(await listed()).toEqual([
      { content: '192.0.2.10', role: 'primary', pool: 'web', healthy: true },
      { content: '192.0.2.20', role: 'secondary' },
    ])

    await origin.down()
    await advance(lb.tenant, 'web', 10_000)
    expect((await lb.health('web')).state).toBe('down')
    expect(datas(await query(`app.${zone}`, 'A', { rd: false }))).toEqual(['192.0.2.20'])
    expect(datas(await query(`app.${zone}`, 'A', { rd: false, dnssec: false }))).toEqual(['192.0.2.20'])
    expect((await listed())?.[0]?.healthy).toBe(false)

    await origin.up()
    await advance(lb.tenant, 'web', 10_000)
    expect((await lb.health('web')).state).toBe('up')
    expect(datas(await query(`app.${zone}`, 'A', { rd: false }))).toEqual(['192.0.2.10'])
    expect((await listed())?.[0]?.healthy).toBe(true)
  })

  it('refuses a pool of another tenant (or none) with 400 and changes nothing', async () => {
    const owner = await lbClient()
    const origin = await startOrigin('dns-foreign')
    await owner.setup('theirs', [origin])
    const other = await lbClient()
    const token = await tokenFor(other.tenant, ['dns:read', 'dns:write'])
    const zone = uniqueZone('foreign')
    const created = await call<{ serial: number }>(`/v1/dns/zones/${zone}`, {
      method: 'PUT',
      token,
      body: {},
    })
    expect(created.status).toBe(201)
    const rrsets = (pool: string) => [
      {
        name: 'app',
        type: 'A',
        changetype: 'REPLACE',
        policy: { kind: 'failover' },
        records: [
          { content: '192.0.2.10', pool },
          { content: '192.0.2.20', role: 'secondary' },
        ],
      },
    ]
    const before = (await call(`/v1/dns/zones/${zone}/rrsets`, { token })).body
    for (const pool of ['theirs', 'missing']) {
      const refused = await call<{ errors: Array<{ path: string; message: string }> }>(
        `/v1/dns/zones/${zone}`,
        {
          method: 'PATCH',
          token,
          body: { rrsets: rrsets(pool) },
        },
      )
      expect(refused.status).toBe(400)
      expect(refused.body.errors).toEqual([
        { path: 'body/rrsets/0/records/0/pool', message: `No load balancer pool named "${pool}"` },
      ])
    }
    expect((await call(`/v1/dns/zones/${zone}/rrsets`, { token })).body).toEqual(before)
    expect((await call<{ serial: number }>(`/v1/dns/zones/${zone}`, { token })).body.serial).toBe(
      created.body.serial,
    )
    // A zone created with such a record is refused whole: no zone appears.
    const second = uniqueZone('foreign')
    const refusedCreate = await call(`/v1/dns/zones/${second}`, {
      method: 'PUT',
      token,
      body: { rrsets: rrsets('theirs') },
    })
    expect(refusedCreate.status).toBe(400)
    expect((await call(`/v1/dns/zones/${second}`, { token })).status).toBe(404)
    // A pool outside a failover policy is refused too.
    const notFailover = await call(`/v1/dns/zones/${zone}`, {
      method: 'PATCH',
      token,
      body: {
        rrsets: [
          { name: 'w', type: 'A', changetype: 'REPLACE', records: [{ content: '192.0.2.1', pool: 'x' }] },
        ],
      },
    })
    expect(notFailover.status).toBe(400)
  })
})

import { expect, it } from 'vitest'
import { call } from '../helpers'
import { counterTenant, flushPushes, inWaves, type Problem, readTotal } from './support'

interface Membership {
  name: string
  member: string
  isMember: boolean
  changed?: boolean
}

const like = (token: string, name: string, member: string) =>
  call<Membership>(`/v1/counters/${name}/members/${member}`, { method: 'PUT', token })
const unlike = (token: string, name: string, member: string) =>
  call<Membership>(`/v1/counters/${name}/members/${member}`, { method: 'DELETE', token })
const isMember = (token: string, name: string, member: string) =>
  call<Membership>(`/v1/counters/${name}/members/${member}`, { token })

it('likes and unlikes: each member counts at most once', async () => {
  const { token } = await counterTenant()
  expect((await like(token, 'post-1', 'ann')).body).toEqual({
    name: 'post-1',
    member: 'ann',
    isMember: true,
    changed: true,
  })
  // The first like created the counter, as a first increment does: 4 shards.
  expect((await call('/v1/counters/post-1/config', { token })).body).toMatchObject({ shards: 4 })
  expect((await like(token, 'post-1', 'ann')).body.changed).toBe(false)
  expect((await like(token, 'post-1', 'bob@example.com')).body.changed).toBe(true)
  expect((await isMember(token, 'post-1', 'ann')).body.isMember).toBe(true)
  expect((await isMember(token, 'post-1', 'cy')).body.isMember).toBe(false)
  expect((await readTotal(token, 'post-1')).body).toMatchObject({ value: 0, members: 2 })

  expect((await unlike(token, 'post-1', 'ann')).body).toEqual({
    name: 'post-1',
    member: 'ann',
    isMember: false,
    changed: true,
  })
  expect((await unlike(token, 'post-1', 'ann')).body.changed).toBe(false)
  expect((await isMember(token, 'post-1', 'ann')).body.isMember).toBe(false)
  expect((await readTotal(token, 'post-1')).body).toMatchObject({ members: 1 })
})

it('counts distinct members spread over the shards exactly', async () => {
  const { tenant, token } = await counterTenant()
  await call('/v1/counters/post-2', { method: 'PUT', token, body: { shards: 8 } })
  const responses = await inWaves(600, 100, (i) => like(token, 'post-2', `user-${i % 300}`))
  expect(responses.every((r) => r.status === 200)).toBe(true)
  expect(responses.filter((r) => r.body.changed)).toHaveLength(300)
  expect((await readTotal(token, 'post-2')).body).toMatchObject({ value: 0, members: 300 })
  await flushPushes(tenant, 'post-2', 8)
  expect((await readTotal(token, 'post-2', 'eventual')).body).toMatchObject({ members: 300 })
})

it('ends concurrent likes and unlikes of one member at the right membership', async () => {
  const { token } = await counterTenant()
  await like(token, 'post-3', 'other')
  const mixed = await Promise.all(
    Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? like : unlike)(token, 'post-3', 'dana')),
  )
  expect(mixed.every((r) => r.status === 200)).toBe(true)
  const netChanges = mixed.reduce((sum, r) => sum + (r.body.changed ? (r.body.isMember ? 1 : -1) : 0), 0)
  const present = (await isMember(token, 'post-3', 'dana')).body.isMember
  expect(netChanges).toBe(present ? 1 : 0)
  expect((await readTotal(token, 'post-3')).body.members).toBe(1 + netChanges)

  const likes = await Promise.all(Array.from({ length: 100 }, () => like(token, 'post-3', 'dana')))
  expect(likes.filter((r) => r.body.changed)).toHaveLength(present ? 0 : 1)
  expect((await readTotal(token, 'post-3')).body.members).toBe(2)
  const unlikes = await Promise.all(Array.from({ length: 100 }, () => unlike(token, 'post-3', 'dana')))
  expect(unlikes.filter((r) => r.body.changed)).toHaveLength(1)
  expect((await isMember(token, 'post-3', 'dana')).body.isMember).toBe(false)
  expect((await readTotal(token, 'post-3')).body.members).toBe(1)
})

it('never double-counts members when the shard count grows', async () => {
  const { token } = await counterTenant()
  await call('/v1/counters/post-4', { method: 'PUT', token, body: { shards: 2 } })
  await Promise.all(Array.from({ length: 50 }, (_, i) => like(token, 'post-4', `fan-${i}`)))
  await call('/v1/counters/post-4', { method: 'PUT', token, body: { shards: 16 } })
  const again = await Promise.all(Array.from({ length: 50 }, (_, i) => like(token, 'post-4', `fan-${i}`)))
  expect(again.filter((r) => r.body.changed)).toHaveLength(0)
  const checks = await Promise.all(
    Array.from({ length: 50 }, (_, i) => isMember(token, 'post-4', `fan-${i}`)),
  )
  expect(checks.every((r) => r.body.isMember)).toBe(true)
  expect((await readTotal(token, 'post-4')).body).toMatchObject({ members: 50, shards: 16 })
})

it('answers 400 to bad member names, 404 for a missing counter, and changes nothing', async () => {
  const { token } = await counterTenant()
  await like(token, 'post-5', 'eve')
  for (const member of ['', 'm'.repeat(257), 'has space', 'slash/inside', 'ünï']) {
    const response = await call<Problem>(`/v1/counters/post-5/members/${encodeURIComponent(member)}`, {
      method: 'PUT',
      token,
    })
    expect(response.status, member).toBe(400)
    expect(response.body.errors?.[0]?.path).toBe('param/member')
  }
  expect((await like(token, 'post-5', 'm'.repeat(256))).status).toBe(200)
  expect((await readTotal(token, 'post-5')).body.members).toBe(2)
  expect((await unlike(token, 'no-such-post', 'eve')).status).toBe(404)
  expect((await isMember(token, 'no-such-post', 'eve')).status).toBe(404)
  expect((await readTotal(token, 'no-such-post')).status).toBe(404)
})

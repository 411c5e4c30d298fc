/**
 * Distinct counts ("likes") of a counter, mounted with the counters routes: each member is
 * hashed to one shard (over the counter's fixed `hashedShards`), so it counts at most once
 * and the distinct count is the exact sum of the shards' member counts.
 */
import { Hono } from 'hono'
import { MemberParam, Membership } from '../../schemas/counters'
import { type AuthEnv, requireScope } from '../platform/auth/middleware'
import { describe } from '../platform/openapi'
import { tenantOf } from '../platform/tenancy'
import { validate } from '../platform/validation'
import { identityOf, withCounter } from './config'
import { memberShard } from './counter'
import { shardAddress, shardStub } from './object'
import { MEMBER, NAME, READ, TAGS, WRITE } from './paths'

export const memberRoutes = new Hono<AuthEnv>()
  .put(
    `/${NAME}/members/${MEMBER}`,
    describe({
      tags: TAGS,
      summary: 'Like: add a member to the distinct count (counts at most once)',
      description: 'A counter that does not exist yet is created with 4 shards, as by a first increment.',
      scope: WRITE,
      responses: { 200: { description: 'The membership', schema: Membership } },
      problems: [404],
    }),
    requireScope(WRITE),
    validate('param', MemberParam),
    async function like(c) {
      const tenant = tenantOf(c)
      const { name, member } = c.req.valid('param')
      const { changed } = await withCounter(c.env, tenant, name, { create: true }, (counter) => {
        const identity = identityOf(tenant, counter)
        const shard = memberShard(counter.config, member)
        return shardStub(c.env, identity, shard).addMember(shardAddress(identity, shard), member)
      })
      return c.json({ name, member, isMember: true, changed })
    },
  )
  .delete(
    `/${NAME}/members/${MEMBER}`,
    describe({
      tags: TAGS,
      summary: 'Unlike: remove a member from the distinct count',
      scope: WRITE,
      responses: { 200: { description: 'The membership', schema: Membership } },
      problems: [404],
    }),
    requireScope(WRITE),
    validate('param', MemberParam),
    async function unlike(c) {
      const tenant = tenantOf(c)
      const { name, member } = c.req.valid('param')
      const { changed } = await withCounter(c.env, tenant, name, { create: false }, (counter) => {
        const identity = identityOf(tenant, counter)
        const shard = memberShard(counter.config, member)
        return shardStub(c.env, identity, shard).removeMember(shardAddress(identity, shard), member)
      })
      return c.json({ name, member, isMember: false, changed })
    },
  )
  .get(
    `/${NAME}/members/${MEMBER}`,
    describe({
      tags: TAGS,
      summary: 'Whether a member is in the distinct count',
      scope: READ,
      responses: { 200: { description: 'The membership', schema: Membership } },
      problems: [404],
    }),
    requireScope(READ),
    validate('param', MemberParam),
    async function isMember(c) {
      const tenant = tenantOf(c)
      const { name, member } = c.req.valid('param')
      const present = await withCounter(c.env, tenant, name, { create: false }, (counter) => {
        const identity = identityOf(tenant, counter)
        const shard = memberShard(counter.config, member)
        return shardStub(c.env, identity, shard).hasMember(shardAddress(identity, shard), member)
      })
      return c.json({ name, member, isMember: present })
    },
  )

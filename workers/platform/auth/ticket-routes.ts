/**
 * `POST /v1/stream-tickets`: trades the caller's bearer token for a short-lived, single-use
 * ticket that opens one stream path from a browser (`?ticket=`). See tickets.ts.
 */
import { Hono } from 'hono'
import { StreamTicket, StreamTicketRequest } from '../../../schemas/platform'
import { readConfig } from '../config'
import { describe } from '../openapi'
import { validate } from '../validation'
import { type AuthEnv, authenticate } from './middleware'
import { mintTicket } from './tickets'

export const streamTicketRoutes = new Hono<AuthEnv>().post(
  '/',
  describe({
    tags: ['tokens'],
    summary: 'Mint a single-use ticket that opens one stream path from a browser',
    description:
      'Browsers cannot send `Authorization` on a WebSocket or EventSource. Mint a ticket with your ' +
      'bearer token, then open the stream with `?ticket=<ticket>` appended to exactly `path`. The ' +
      "ticket carries the token's tenant and scopes, opens the stream once, and expires after " +
      '`ttlSeconds` (at most 60). A replayed, expired or wrong-path ticket, or one whose token was ' +
      'revoked, is refused with 401 before the stream opens.',
    responses: { 201: { description: 'The ticket', schema: StreamTicket } },
    problems: [401],
  }),
  validate('json', StreamTicketRequest),
  async function mintStreamTicket(c) {
    // A ticket cannot mint another ticket: this route takes a bearer token only.
    const principal = c.get('principal') ?? (await authenticate(c.env, c.req.header('authorization')))
    const { path, ttlSeconds } = c.req.valid('json')
    const { ticket, expiresAt } = await mintTicket(readConfig(c.env).jwtSecret, principal, path, ttlSeconds)
    return c.json({ ticket, path, expiresAt, scopes: [...principal.scopes] }, 201)
  },
)

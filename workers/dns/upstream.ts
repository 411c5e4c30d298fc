/**
 * Forwarding to upstream DoH servers (`DNS_UPSTREAMS`), in order: a server that fails (a
 * network error, a timeout of 3 s, an HTTP error, a message that does not parse, or
 * SERVFAIL) passes the question to the next. Requests carry `x-edgeblocks-forwarded`, and a
 * request carrying it is never forwarded again, so two instances pointing at each other
 * cannot loop.
 */
import type { Env } from '../platform/env'
import { dnsSettings } from './settings'
import { decodeMessage, emptyMessage, encodeMessage, type Message, type Question } from './wire/message'
import { RCODE } from './wire/types'

export const FORWARDED_HEADER = 'x-edgeblocks-forwarded'
export const UPSTREAM_TIMEOUT_MS = 3000

export async function forwardUpstream(env: Env, question: Question, dnssecOk: boolean): Promise<Message> {
  const { upstreams } = dnsSettings(env)
  if (upstreams.length === 0) throw new Error('Forwarding is off: no upstream servers are configured')
  const query = emptyMessage(0)
  query.rd = true
  query.questions = [question]
  query.edns = { udpSize: 4096, version: 0, dnssecOk, options: [] }
  const body = encodeMessage(query)
  const failures: string[] = []
  for (const url of upstreams) {
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/dns-message',
          accept: 'application/dns-message',
          [FORWARDED_HEADER]: '1',
        },
        body,
        signal: AbortSignal.timeout(UPSTREAM_TIMEOUT_MS),
      })
      if (!response.ok) {
        await response.body?.cancel()
        failures.push(`${new URL(url).host}: HTTP ${response.status}`)
        continue
      }
      const message = decodeMessage(new Uint8Array(await response.arrayBuffer()))
      if (message.rcode === RCODE.SERVFAIL) {
        failures.push(`${new URL(url).host}: SERVFAIL`)
        continue
      }
      return message
    } catch (error) {
      failures.push(`${new URL(url).host}: ${error instanceof Error ? error.name : 'error'}`)
    }
  }
  throw new Error(`No upstream server answered (${failures.join('; ')})`)
}

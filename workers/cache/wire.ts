/**
 * The Upstash Redis REST wire, as `@upstash/redis` speaks it: a command is a JSON array
 * (`["SET","k","v","EX",60]`, numbers and booleans become their text), a reply is
 * `{"result": …}` or `{"error": "…"}`; pipelines and transactions send an array of
 * commands and get an array of replies. With `Upstash-Encoding: base64` every string in a
 * result is base64 (UTF-8), except a bare `"OK"`, which the client leaves as it is.
 */
import { bytesToBase64 } from '../platform/encoding'
import type { Outcome, Reply } from './commands'

const encoder = new TextEncoder()

export function toArgs(command: ReadonlyArray<string | number | boolean>): string[] {
  return command.map((arg) => (typeof arg === 'string' ? arg : String(arg)))
}

function encodeReply(reply: Reply): Reply {
  if (typeof reply === 'string') return bytesToBase64(encoder.encode(reply))
  if (Array.isArray(reply)) return reply.map(encodeReply)
  return reply
}

export function encodeOutcome(outcome: Outcome, base64: boolean): Outcome {
  if (!base64 || 'error' in outcome) return outcome
  return outcome.result === 'OK' ? outcome : { result: encodeReply(outcome.result) }
}

export function wantsBase64(header: string | undefined): boolean {
  return header?.toLowerCase() === 'base64'
}

// Streams and batons: which HTTP request continues which stream.
//
// Guarantees:
// - A baton is `<stream id>.<sequence>.<HMAC-SHA256 tag>`: the stream id is 128 random bits and the tag
//   is keyed by 256 random bits made at start, so batons cannot be forged or guessed, and a baton only
//   ever names the stream it was issued for (and that stream's database).
// - Exactly one baton per stream is valid at a time: using it consumes it, and every response carries a
//   fresh one. A second use of the same baton (replay, or two requests racing) gets BATON_REUSED and
//   never touches the stream.
// - Errors say what happened: BATON_INVALID (malformed, forged, or another database's), STREAM_EXPIRED
//   (closed, idle past the limit, or lost to an engine restart), BATON_REUSED.
// - A stream is expired only when idle (not while one of its requests runs) for `idleMs` by the injected
//   clock, so tests advance the clock instead of sleeping.
// - At most `maxStreams` streams exist at once (one-shot pipelines count while they run).

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export interface StreamRecord {
  /** Public random id carried in batons. */
  readonly id: string
  /** The engine's handle for this stream's connection. */
  readonly engineId: number
  readonly namespace: string
  /** The sequence number the next valid baton carries. */
  seq: number
  lastActive: number
  running: boolean
  /** The engine has not seen this stream yet. */
  isNew: boolean
}

export type BatonCheck =
  | { ok: true; stream: StreamRecord }
  | { ok: false; code: 'BATON_INVALID' | 'BATON_REUSED' | 'STREAM_EXPIRED'; message: string }

export interface StreamRegistryOptions {
  maxStreams: number
  idleMs: number
  now: () => number
}

export class StreamRegistry {
  private readonly options: StreamRegistryOptions
  private readonly key = randomBytes(32)
  private readonly streams = new Map<string, StreamRecord>()
  private nextEngineId = 1

  constructor(options: StreamRegistryOptions) {
    this.options = { ...options }
  }

  get size(): number {
    return this.streams.size
  }

  /** A new stream, or undefined when the limit is reached. */
  open(namespace: string): StreamRecord | undefined {
    if (this.streams.size >= this.options.maxStreams) return undefined
    const stream: StreamRecord = {
      id: randomBytes(16).toString('base64url'),
      engineId: this.nextEngineId++,
      namespace,
      seq: 0,
      lastActive: this.options.now(),
      running: true,
      isNew: true,
    }
    this.streams.set(stream.id, stream)
    return stream
  }

  /** Checks a baton and, if valid, consumes it and marks the stream running. */
  take(baton: string, namespace: string): BatonCheck {
    const parts = baton.split('.')
    const [id, seqText, tag] = parts
    if (
      parts.length !== 3 ||
      id === undefined ||
      seqText === undefined ||
      tag === undefined ||
      !/^\d{1,15}$/.test(seqText)
    )
      return { ok: false, code: 'BATON_INVALID', message: 'the baton is malformed' }
    const expected = this.sign(id, seqText)
    const given = Buffer.from(tag)
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return { ok: false, code: 'BATON_INVALID', message: 'the baton was not issued by this server' }
    const stream = this.streams.get(id)
    if (stream === undefined)
      return {
        ok: false,
        code: 'STREAM_EXPIRED',
        message: `the stream is closed or expired (streams close after ${this.options.idleMs} ms idle); open a new one`,
      }
    if (stream.namespace !== namespace)
      return {
        ok: false,
        code: 'BATON_INVALID',
        message: 'the baton belongs to a stream of another database',
      }
    if (stream.running || Number(seqText) !== stream.seq)
      return {
        ok: false,
        code: 'BATON_REUSED',
        message: 'the baton was already used; send each request with the baton of the previous response',
      }
    stream.seq++
    stream.running = true
    return { ok: true, stream }
  }

  /** Ends a request on a stream that stays open: returns its next baton. */
  release(stream: StreamRecord): string {
    stream.seq++
    stream.running = false
    stream.isNew = false
    stream.lastActive = this.options.now()
    const seq = String(stream.seq)
    return `${stream.id}.${seq}.${this.sign(stream.id, seq).toString()}`
  }

  delete(stream: StreamRecord): void {
    this.streams.delete(stream.id)
  }

  /** Removes and returns the streams idle for longer than idleMs. */
  takeExpired(): StreamRecord[] {
    const cutoff = this.options.now() - this.options.idleMs
    const expired = [...this.streams.values()].filter((s) => !s.running && s.lastActive <= cutoff)
    for (const s of expired) this.streams.delete(s.id)
    return expired
  }

  /** Removes and returns every stream. */
  takeAll(): StreamRecord[] {
    const all = [...this.streams.values()]
    this.streams.clear()
    return all
  }

  private sign(id: string, seq: string): Buffer {
    return Buffer.from(createHmac('sha256', this.key).update(`${id}.${seq}`).digest('base64url'))
  }
}

/**
 * Grouping events into issues, in Sentry's order of preference:
 * 1. the event's `fingerprint` when given (`{{ default }}` stands for the computed one);
 * 2. else its in-app stack frames: each frame's function and module (or normalized file
 *    name: no origin, query, hash or version segment, so a redeploy or a CDN change keeps
 *    the group), from every exception;
 * 3. else the exception type and message (or the log message), with numbers and hex ids
 *    masked so "id 123" and "id 456" group together.
 * Line and column numbers are never part of the key (they move with every edit).
 *
 * Also the title (`Type: message`) and culprit (the innermost in-app frame).
 * Pure. Cost: O(frames); the key is a 64-bit FNV-1a hash in hex.
 */
import type { StoredEvent, StoredFrame } from './event'

function fnv1a(text: string, seed: number): string {
  let hash = seed
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 16777619) >>> 0
  return hash.toString(16).padStart(8, '0')
}
const hash = (parts: string[]) => {
  const text = parts.join('\u0000')
  return fnv1a(text, 2166136261) + fnv1a(text, 0x9747b28c)
}

/** `https://cdn.example/static/app.3f9a1c.min.js?v=2` → `static/app.min.js`. */
export function normalizeFilename(name: string): string {
  return name
    .replace(/^[a-z][a-z0-9+.-]*:\/\/[^/]*/i, '')
    .replace(/[?#].*$/, '')
    .replace(/^\/+/, '')
    .replace(/([./-])[0-9a-f]{6,}(?=[./-])/gi, '')
}

const mask = (text: string) => text.replace(/\b0x[0-9a-f]+\b|\b[0-9a-f]{8,}\b|\d+/gi, '<n>').slice(0, 512)

function frameKey(f: StoredFrame): string {
  return `${f.module || normalizeFilename(f.filename)}|${f.function || '?'}`
}

export interface Grouping {
  key: string
  /** Which rule grouped the event. */
  by: 'fingerprint' | 'stacktrace' | 'exception' | 'message'
  title: string
  culprit: string
}

function defaultGroup(event: StoredEvent): Omit<Grouping, 'title' | 'culprit'> & { parts: string[] } {
  const inApp = event.exceptions.flatMap((e) => e.frames.filter((f) => f.inApp).map(frameKey))
  if (inApp.length > 0) return { key: '', by: 'stacktrace', parts: ['stack', ...inApp] }
  const top = event.exceptions.at(-1)
  if (top && (top.type || top.value))
    return { key: '', by: 'exception', parts: ['exception', top.type, mask(top.value)] }
  return { key: '', by: 'message', parts: ['message', mask(event.message)] }
}

export function groupEvent(event: StoredEvent): Grouping {
  const computed = defaultGroup(event)
  let by = computed.by
  let parts = computed.parts
  if (event.fingerprint) {
    by = 'fingerprint'
    parts = event.fingerprint.flatMap((f) =>
      f === '{{ default }}' || f === '{{default}}' ? computed.parts : [`fp:${f}`],
    )
  }
  const top = event.exceptions.at(-1)
  const title = (
    top ? (top.value ? `${top.type}: ${top.value}` : top.type) : event.message || '<unlabeled event>'
  )
    .split('\n')[0]
    ?.slice(0, 200) as string
  const crash = [...(top?.frames ?? [])].reverse()
  const frame = crash.find((f) => f.inApp) ?? crash[0]
  const culprit = frame
    ? `${frame.function || '?'} (${normalizeFilename(frame.filename) || frame.module})`
    : (event.transaction ?? '')
  return { key: hash(parts), by, title: title || '<unlabeled event>', culprit }
}

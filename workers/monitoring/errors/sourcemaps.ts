/**
 * Source maps applied to minified stack frames (the `source-map-js` consumer, pure JS).
 *
 * A frame at `https://any.host/static/app.min.js` line L column C looks up the release file
 * `~/static/app.min.js.map` (`~` stands for any origin; an upload named with the exact
 * origin path `/static/app.min.js.map` matches too). A mapped frame takes the original
 * source file, line, column, the original name when the map has one, and its source line
 * when the map embeds `sourcesContent`; it keeps the minified location in `minified`.
 * A frame without a map, or at a position the map does not cover, is left as it was.
 *
 * Cost: a map is parsed once per object instance (`MapCache`, least recently used), then
 * each frame is a binary search over the map's mappings.
 */
import { SourceMapConsumer } from 'source-map-js'
import type { StoredFrame } from './event'

export interface MappedFrame extends StoredFrame {
  minified?: { filename: string; function: string; lineno: number | null; colno: number | null }
}

/** The release file names that may hold the map of a frame's file, in order of preference. */
export function mapNamesFor(absPath: string): string[] {
  let path: string
  try {
    path = new URL(absPath).pathname
  } catch {
    path = absPath.startsWith('/') ? absPath : `/${absPath}`
  }
  return [`~${path}.map`, `${path}.map`]
}

export class MapCache {
  private readonly entries = new Map<string, SourceMapConsumer | null>()
  constructor(private readonly capacity = 16) {}

  get(key: string, load: () => string | undefined): SourceMapConsumer | null {
    if (this.entries.has(key)) {
      const hit = this.entries.get(key) ?? null
      this.entries.delete(key)
      this.entries.set(key, hit)
      return hit
    }
    let consumer: SourceMapConsumer | null = null
    const text = load()
    if (text !== undefined) {
      try {
        consumer = new SourceMapConsumer(JSON.parse(text))
      } catch {
        consumer = null
      }
    }
    this.entries.set(key, consumer)
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string)
    return consumer
  }

  clear(): void {
    this.entries.clear()
  }
}

const DECLARATIONS = [
  /\bfunction\s*\*?\s*([A-Za-z_$][\w$]*)\s*\(/,
  /([A-Za-z_$][\w$]*)\s*[:=]\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*=>|[A-Za-z_$][\w$]*\s*=>)/,
  /^\s*(?:(?:static|async|get|set)\s+)*(?!if\b|for\b|while\b|switch\b|catch\b|return\b)([A-Za-z_$][\w$]*)\s*\([^)]*\)\s*\{/,
]

/**
 * The original name of the function around `line` (0-based) of an original source: the
 * nearest declaration at or above it (at most 100 lines up). A heuristic, as minified frames
 * carry only the minified name; undefined when nothing looks like a declaration.
 */
export function enclosingFunction(lines: string[], line: number): string | undefined {
  for (let i = line; i >= 0 && i > line - 100; i--) {
    for (const pattern of DECLARATIONS) {
      const name = pattern.exec(lines[i] ?? '')?.[1]
      if (name) return name
    }
  }
  return undefined
}

/** Maps each frame whose file has a source map (`mapFor` returns the parsed map or null). */
export function applySourceMaps(
  frames: StoredFrame[],
  mapFor: (absPath: string) => SourceMapConsumer | null,
): { frames: MappedFrame[]; mapped: number } {
  let mapped = 0
  const out = frames.map((frame): MappedFrame => {
    if (frame.lineno === null || !frame.absPath) return frame
    const map = mapFor(frame.absPath)
    if (!map) return frame
    const position = map.originalPositionFor({
      line: frame.lineno,
      column: Math.max(0, (frame.colno ?? 1) - 1),
    })
    if (!position.source || position.line === null) return frame
    mapped++
    const next: MappedFrame = {
      ...frame,
      filename: position.source,
      absPath: position.source,
      function: frame.function,
      lineno: position.line,
      colno: position.column === null ? null : position.column + 1,
      inApp: !/node_modules/.test(position.source),
      minified: {
        filename: frame.filename,
        function: frame.function,
        lineno: frame.lineno,
        colno: frame.colno,
      },
    }
    const content = map.sourceContentFor(position.source, true)
    const lines = content?.split('\n')
    const line = lines?.[position.line - 1]
    if (line !== undefined) next.contextLine = line.slice(0, 1024)
    else delete next.contextLine
    next.function = (lines && enclosingFunction(lines, position.line - 1)) ?? position.name ?? frame.function
    return next
  })
  return { frames: out, mapped }
}

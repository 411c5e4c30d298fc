/**
 * Redis glob patterns (SCAN MATCH, KEYS): `*` any run, `?` one character, `[abc]`, `[^a]`,
 * `[a-z]` classes, `\x` a literal x. Compiled once to an anchored RegExp: O(pattern) to
 * build, linear matching for the patterns Redis users write.
 */
export function globToRegExp(glob: string): RegExp {
  let source = ''
  for (let i = 0; i < glob.length; i++) {
    const char = glob[i] as string
    if (char === '*') source += '[\\s\\S]*'
    else if (char === '?') source += '[\\s\\S]'
    else if (char === '\\' && i + 1 < glob.length) source += literal(glob[++i] as string)
    else if (char === '[') {
      const close = glob.indexOf(']', i + 2)
      if (close < 0) {
        source += '\\['
        continue
      }
      let body = glob.slice(i + 1, close)
      const negate = body.startsWith('^')
      if (negate) body = body.slice(1)
      let cls = ''
      for (let j = 0; j < body.length; j++) {
        const c = body[j] as string
        if (c === '\\' && j + 1 < body.length) cls += literal(body[++j] as string)
        else if (c === '-' && j > 0 && j + 1 < body.length) cls += '-'
        else cls += literal(c)
      }
      source += `[${negate ? '^' : ''}${cls}]`
      i = close
    } else source += literal(char)
  }
  return new RegExp(`^${source}$`)
}

function literal(char: string): string {
  return /[\\^$.*+?()[\]{}|/-]/.test(char) ? `\\${char}` : char
}

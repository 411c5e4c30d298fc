/**
 * Text that may reach an HTTP header, a log line or another system: one check per rule,
 * reused by every block's schemas.
 *
 * - Well-formed Unicode: no lone UTF-16 surrogate (which no UTF-8 encoder can write).
 * - Header-safe: well-formed and free of control characters (NUL, CR, LF, DEL and the other
 *   C0 controls except tab), so the value can be an HTTP header value (CloudEvents binary
 *   mode, push headers), a log field or a SQL text parameter without splitting or truncating.
 */
import * as v from 'valibot'

const encoder = new TextEncoder()

/** The length of the text in UTF-8 bytes. */
export function utf8Length(text: string): number {
  return encoder.encode(text).byteLength
}

/** Whether the string has no lone surrogate (a `String.prototype.isWellFormed` that runs everywhere). */
export function isWellFormedText(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i)
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(i + 1)
      if (!(next >= 0xdc00 && next <= 0xdfff)) return false
      i++
    } else if (unit >= 0xdc00 && unit <= 0xdfff) return false
  }
  return true
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the rule is about control characters
const CONTROL_CHARACTERS = /[\x00-\x08\x0a-\x1f\x7f]/

/** Whether the string is well-formed and has no control character but tab. */
export function isHeaderSafeText(text: string): boolean {
  return !CONTROL_CHARACTERS.test(text) && isWellFormedText(text)
}

/** A valibot check: well-formed Unicode text (no lone surrogates). */
export const wellFormed = () => v.check(isWellFormedText, 'Well-formed Unicode text (no lone surrogates)')

/** A valibot check: text that can be an HTTP header value (no NUL, CR, LF or other controls). */
export const headerSafe = () =>
  v.check(isHeaderSafeText, 'No control characters (NUL, CR, LF…) and no lone surrogates')

/** A string of `min`..`max` characters, well-formed. */
export const WellFormedText = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.minLength(min, `At least ${min} characters`),
    v.maxLength(max, `At most ${max} characters`),
    wellFormed(),
  )

/** A string of `min`..`max` characters that is safe as a header value. */
export const HeaderSafeText = (min: number, max: number) =>
  v.pipe(
    v.string(),
    v.minLength(min, `At least ${min} characters`),
    v.maxLength(max, `At most ${max} characters`),
    headerSafe(),
  )

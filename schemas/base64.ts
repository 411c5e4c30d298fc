/** Standard base64 (RFC 4648 §4, padded): the shape check schemas and the encoders share. */

const STANDARD_BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/** Whether the text is standard, padded base64. */
export function isBase64(text: string): boolean {
  return STANDARD_BASE64.test(text)
}

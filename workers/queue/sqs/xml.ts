/** XML text for the query protocol's responses and errors (pure). */

export const QUERY_NAMESPACE = 'http://queue.amazonaws.com/doc/2012-11-05/'

/** XML text: markup characters as entities, CR as a character reference so parsers keep it. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (char) =>
    char === '&'
      ? '&amp;'
      : char === '<'
        ? '&lt;'
        : char === '>'
          ? '&gt;'
          : char === '"'
            ? '&quot;'
            : char === "'"
              ? '&apos;'
              : '&#xD;',
  )
}

/** SQS's XML error document. */
export function encodeQueryError(
  fault: 'Sender' | 'Receiver',
  code: string,
  message: string,
  requestId: string,
): string {
  return (
    `<?xml version="1.0"?><ErrorResponse xmlns="${QUERY_NAMESPACE}"><Error><Type>${fault}</Type>` +
    `<Code>${escapeXml(code)}</Code><Message>${escapeXml(message)}</Message><Detail/></Error>` +
    `<RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`
  )
}

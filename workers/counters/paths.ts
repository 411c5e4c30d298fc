/** Route path pieces and scopes the counters routes share. */

/**
 * Path parameters that may be empty, so an empty name reaches validation (400), not 404.
 * The slash is written `\x2f`: the OpenAPI generator splits route paths on `/`.
 */
export const NAME = ':name{[^\\x2f]*}'
export const MEMBER = ':member{[^\\x2f]*}'
export const TAGS = ['counters']
export const READ = 'counters:read'
export const WRITE = 'counters:write'

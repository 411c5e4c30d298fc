/**
 * Stands in for `zod/v4/core` in the Worker bundle (wrangler.toml `[alias]`).
 * hono-openapi's schema converters load zod lazily, for zod schemas only; edgeblocks
 * uses valibot everywhere, so that branch never runs, but zod happens to be installed
 * (a dev dependency of the test pool) and would otherwise add ~700 KiB to the bundle.
 */
export {}

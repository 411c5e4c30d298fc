/**
 * The Worker's bindings. Each block declares its own bindings next to its code by
 * augmenting `Cloudflare.Env` (the same type `cloudflare:test`'s `env` has); the platform
 * declares its secrets and variables here. Read settings through `readConfig`, not `env`.
 */
declare global {
  namespace Cloudflare {
    interface Env {
      /** HS256 key for access tokens (secret, at least 32 characters). */
      JWT_SECRET?: string
      /** Key that authorises minting tokens with `POST /v1/tokens` (secret). */
      ROOT_KEY?: string
      LIBSQL_URL?: string
      LIBSQL_AUTH_TOKEN?: string
      TOKEN_MAX_TTL_SECONDS?: string
      BODY_LIMIT_BYTES?: string
      REVOCATION_CACHE_SECONDS?: string
      /** Gateway rate limits: `<limit>/<duration>` or `off`; overrides are JSON `{"tenant": "<rate>"}`. */
      GATEWAY_TENANT_LIMIT?: string
      GATEWAY_TENANT_OVERRIDES?: string
      GATEWAY_IP_LIMIT?: string
      /** Object storage shared by the blocks (R2; a directory on disk under `wrangler dev`). */
      BLOBS?: R2Bucket
      /** An edge cache a host provides in place of the Cache API (unset on Cloudflare). */
      EDGE_CACHE?: Cache
    }
  }
}

export type Env = Cloudflare.Env

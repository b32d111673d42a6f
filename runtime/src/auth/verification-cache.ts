/**
 * A cache of verified tokens. A client reuses one token for many calls (Firebase ID tokens
 * live an hour), and verifying its RS256 signature again on every call was a quarter of a
 * call's server CPU in the benchmark. A token that verified once maps to its principal until
 * the earliest of its `exp` and `maxAgeMs` after verification (bounding how long a key
 * removed from the issuer's set keeps working); failures are never cached, so a bad token
 * costs a verification each time, as before. Bounded: the oldest entries go first.
 */
import type { Principal, TokenVerifier } from "./token-verifier.js";

/** Options of {@link cacheVerifications}. */
export interface VerificationCacheOptions {
  /** Most tokens kept. Default 10,000. */
  readonly maxEntries?: number;
  /** Longest a verification is reused, ms. Default 60,000. */
  readonly maxAgeMs?: number;
  /** The clock, epoch ms (tests). Default `Date.now`. */
  readonly now?: () => number;
}

/** `verifier` with verified tokens cached; see the module comment. */
export function cacheVerifications(
  verifier: TokenVerifier,
  options: VerificationCacheOptions = {},
): TokenVerifier {
  const maxEntries = options.maxEntries ?? 10_000;
  const maxAgeMs = options.maxAgeMs ?? 60_000;
  const now = options.now ?? Date.now;
  const cache = new Map<string, { principal: Principal; until: number }>();
  return {
    async verify(token, signal) {
      const hit = cache.get(token);
      if (hit !== undefined) {
        if (now() < hit.until) return hit.principal;
        cache.delete(token);
      }
      const principal = await verifier.verify(token, signal);
      const exp = principal.claims.exp;
      const until = Math.min(
        now() + maxAgeMs,
        typeof exp === "number" ? exp * 1000 : Number.NEGATIVE_INFINITY,
      );
      // A token without `exp` is verified every time (there is nothing to bound its reuse).
      if (until > now()) {
        if (cache.size >= maxEntries) {
          const oldest = cache.keys().next().value;
          if (oldest !== undefined) cache.delete(oldest);
        }
        cache.set(token, { principal, until });
      }
      return principal;
    },
    ready: () => verifier.ready(),
    keysLoaded: () => verifier.keysLoaded(),
    async close() {
      cache.clear();
      await verifier.close();
    },
  };
}

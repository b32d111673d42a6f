/**
 * The lookup behind every issuer's revocation check (Firebase's account lookup, a token
 * introspection endpoint), cached. Asking the issuer on every call puts a network round trip
 * on each call's path and a burst of calls for one user would send a burst of identical
 * requests; here an answer is reused for a short TTL, concurrent callers for one key share the
 * one lookup in flight, each lookup is bounded by a timeout and each caller waits no longer
 * than its own call's signal. The trade-off of the TTL: a token revoked at the issuer stays
 * accepted for at most that long. A failed lookup is never cached and is UNAVAILABLE with
 * reason `revocation_unavailable` (the token may be fine; the caller may retry), never
 * INTERNAL. Bounded: the oldest answers go first.
 */
import { AuthConfigError, AuthError, raceSignal } from "./token-verifier.js";

/** Options of a revocation check's cache; each falls back to the environment. */
export interface RevocationCacheOptions {
  /**
   * How long an answer is reused, ms. A token revoked at the issuer stays accepted for at
   * most this long; 0 asks on every call (concurrent calls still share one lookup).
   * Default `AUTH_REVOCATION_CACHE_MS`, else 10,000.
   */
  readonly ttlMs?: number;
  /** Longest wait for one lookup, ms. Default `AUTH_REVOCATION_TIMEOUT_MS`, else 2000. */
  readonly timeoutMs?: number;
  /** Most answers kept. Default 10,000. */
  readonly maxEntries?: number;
  /** The clock, epoch ms (tests). Default `Date.now`. */
  readonly now?: () => number;
}

/** Asks the issuer about one key; `signal` aborts when the lookup timed out. */
export type RevocationLookup<T> = (key: string, signal: AbortSignal) => Promise<T>;

/** A cached, single-flight, time-bounded {@link RevocationLookup}. */
export interface RevocationCache<T> {
  /**
   * The answer for `key`: cached, the lookup in flight, or a new lookup. Rejects with an
   * {@link AuthError} `revocation_unavailable` when the lookup fails, times out or `signal`
   * aborts first; an AuthError the lookup throws itself is passed on.
   */
  get(key: string, signal?: AbortSignal): Promise<T>;
  /** Forgets every answer (a lookup in flight still settles its callers). */
  clear(): void;
}

/** The refusal of a failed lookup; its cause stays out of the message, which the caller sees. */
const unavailable = (): AuthError =>
  new AuthError(
    "revocation_unavailable",
    "Could not check whether the token was revoked; retry later",
  );

/** Caches `lookup`; see the module comment. */
export function createRevocationCache<T>(
  lookup: RevocationLookup<T>,
  options: RevocationCacheOptions = {},
): RevocationCache<T> {
  const ttlMs = options.ttlMs ?? 10_000;
  const timeoutMs = options.timeoutMs ?? 2000;
  const maxEntries = options.maxEntries ?? 10_000;
  const now = options.now ?? Date.now;
  const answers = new Map<string, { value: T; until: number }>();
  const inflight = new Map<string, Promise<T>>();

  const store = (key: string, value: T): void => {
    if (ttlMs <= 0) return;
    answers.delete(key);
    if (answers.size >= maxEntries) {
      const oldest = answers.keys().next().value;
      if (oldest !== undefined) answers.delete(oldest);
    }
    answers.set(key, { value, until: now() + ttlMs });
  };

  /** One lookup for `key`, shared by every caller until it settles. */
  const start = (key: string): Promise<T> => {
    const controller = new AbortController();
    const attempt = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        controller.abort();
        reject(unavailable());
      }, timeoutMs);
      lookup(key, controller.signal).then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error instanceof AuthError ? error : unavailable());
        },
      );
    });
    const shared = attempt.then(
      (value) => {
        inflight.delete(key);
        store(key, value);
        return value;
      },
      (error: unknown) => {
        inflight.delete(key);
        throw error;
      },
    );
    inflight.set(key, shared);
    // Every caller observes it through its own race; this keeps a lookup whose callers have
    // all given up from surfacing as an unhandled rejection.
    shared.catch(() => undefined);
    return shared;
  };

  return {
    get(key, signal) {
      const hit = answers.get(key);
      if (hit !== undefined) {
        if (now() < hit.until) return Promise.resolve(hit.value);
        answers.delete(key);
      }
      return raceSignal(inflight.get(key) ?? start(key), signal, "revocation_unavailable");
    },
    clear() {
      answers.clear();
    },
  };
}

/**
 * The cache settings in `env` (`AUTH_REVOCATION_CACHE_MS`, `AUTH_REVOCATION_TIMEOUT_MS`)
 * under those of `options`. Throws {@link AuthConfigError} naming a variable that is not a
 * whole number of milliseconds (a timeout must be positive).
 */
export function revocationCacheOptions(
  env: Readonly<Record<string, string | undefined>>,
  options: RevocationCacheOptions = {},
): RevocationCacheOptions {
  const read = (name: string, min: number): number | undefined => {
    const text = (env[name] ?? "").trim();
    if (text === "") return undefined;
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < min) {
      throw new AuthConfigError(
        `${name} must be a whole number of milliseconds${min > 0 ? ` of at least ${min}` : ""}, got "${env[name]}"`,
      );
    }
    return value;
  };
  const ttlMs = options.ttlMs ?? read("AUTH_REVOCATION_CACHE_MS", 0);
  const timeoutMs = options.timeoutMs ?? read("AUTH_REVOCATION_TIMEOUT_MS", 1);
  return {
    ...options,
    ...(ttlMs === undefined ? {} : { ttlMs }),
    ...(timeoutMs === undefined ? {} : { timeoutMs }),
  };
}

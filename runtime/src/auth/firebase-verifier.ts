/**
 * Firebase ID tokens, verified with firebase-admin's `verifyIdToken`, plus what it leaves out:
 * its public keys are fetched before the service reports ready, refreshed in the background
 * before they expire, one fetch at a time, each bounded by a timeout (firebase-admin fetches
 * on the request path with no single-flight and no timeout); `iat`/`auth_time` in the future
 * are refused. The Auth emulator variable is refused unless development mode is on, since it
 * makes firebase-admin accept unsigned tokens.
 */
import { createPublicKey, type KeyObject } from "node:crypto";
import type { Agent } from "node:http";
import { type App, type Credential, deleteApp, initializeApp } from "firebase-admin/app";
import { type Auth, getAuth } from "firebase-admin/auth";
import {
  createRevocationCache,
  type RevocationCache,
  type RevocationCacheOptions,
  revocationCacheOptions,
} from "./revocation-cache.js";
import {
  AuthConfigError,
  AuthError,
  type AuthFailureReason,
  checkStandardClaims,
  type Principal,
  principalOf,
  raceSignal,
  type TokenVerifier,
} from "./token-verifier.js";

/** Options of {@link createFirebaseVerifier}; each falls back to the environment. */
export interface FirebaseVerifierOptions {
  /** The Firebase project id (the token audience). Default `FIREBASE_PROJECT_ID`, else `GOOGLE_CLOUD_PROJECT`. */
  readonly projectId?: string;
  /**
   * Also ask Firebase whether the token was revoked or the user disabled (an Identity
   * Toolkit account lookup, which needs credentials: `credential`, else Google's application
   * default credentials). A revoked token or a disabled user is refused with
   * UNAUTHENTICATED and reason `revoked`. Default `FIREBASE_CHECK_REVOKED=true`, else off.
   */
  readonly checkRevoked?: boolean;
  /**
   * The account lookups of `checkRevoked`, cached per uid: reused for `ttlMs` (default 10 s,
   * `AUTH_REVOCATION_CACHE_MS`; a revoked token stays accepted for at most that long), one
   * lookup in flight per uid, each bounded by `timeoutMs` (default 2 s,
   * `AUTH_REVOCATION_TIMEOUT_MS`).
   */
  readonly revocationCache?: RevocationCacheOptions;
  /**
   * The credential firebase-admin calls Google's APIs with (the revocation lookup).
   * Default: application default credentials (`GOOGLE_APPLICATION_CREDENTIALS`, or the
   * platform's metadata server). Key verification alone needs none.
   */
  readonly credential?: Credential;
  /** Allows `FIREBASE_AUTH_EMULATOR_HOST`. Default `SVCGEN_DEV_MODE=true`, else off. */
  readonly developmentMode?: boolean;
  /** Longest wait for one key fetch, ms. Default 5000. */
  readonly keyFetchTimeoutMs?: number;
  /** Clock drift allowed on `iat`/`auth_time`, seconds. Default 0 (what Firebase does for `exp`). */
  readonly clockSkewSeconds?: number;
  /** The HTTP(S) agent firebase-admin fetches keys through (proxies; tests route it to loopback). */
  readonly httpAgent?: Agent;
  /** The environment to read defaults from. Default `process.env`. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The slice of firebase-admin's key fetcher this module drives (firebase-admin 13.10 `UrlKeyFetcher`). */
interface KeyFetcher {
  fetchPublicKeys(): Promise<Record<string, string | KeyObject>>;
  refresh(): Promise<Record<string, string>>;
  publicKeys?: Record<string, string>;
  publicKeysExpireAt: number;
}

interface VerifierInternals {
  idTokenVerifier?: { signatureVerifier?: { keyFetcher?: KeyFetcher } };
}

let appCounter = 0;

/**
 * A {@link TokenVerifier} for Firebase ID tokens. Throws {@link AuthConfigError} when no
 * project id is configured, or when `FIREBASE_AUTH_EMULATOR_HOST` is set without development mode.
 */
export function createFirebaseVerifier(options: FirebaseVerifierOptions = {}): TokenVerifier {
  const env = options.env ?? process.env;
  const developmentMode = options.developmentMode ?? env.SVCGEN_DEV_MODE === "true";
  const emulator = env.FIREBASE_AUTH_EMULATOR_HOST;
  if (emulator !== undefined && emulator !== "" && !developmentMode) {
    throw new AuthConfigError(
      "FIREBASE_AUTH_EMULATOR_HOST is set, which makes firebase-admin accept unsigned tokens: " +
        "unset it, or set SVCGEN_DEV_MODE=true to run in development mode",
    );
  }
  const projectId = options.projectId ?? env.FIREBASE_PROJECT_ID ?? env.GOOGLE_CLOUD_PROJECT;
  if (projectId === undefined || projectId === "") {
    throw new AuthConfigError(
      "No Firebase project id: set FIREBASE_PROJECT_ID to the project whose ID tokens this service accepts",
    );
  }
  const checkRevoked = options.checkRevoked ?? env.FIREBASE_CHECK_REVOKED === "true";
  // Read before the app exists, so a malformed setting leaves nothing to clean up.
  const revocationCache = checkRevoked
    ? revocationCacheOptions(env, options.revocationCache)
    : undefined;
  const timeoutMs = options.keyFetchTimeoutMs ?? 5000;
  const skew = options.clockSkewSeconds ?? 0;
  appCounter += 1;
  const app: App = initializeApp(
    {
      projectId,
      ...(options.httpAgent === undefined ? {} : { httpAgent: options.httpAgent }),
      ...(options.credential === undefined ? {} : { credential: options.credential }),
    },
    `svcgen-auth-${appCounter}`,
  );
  const auth: Auth = getAuth(app);
  const inner = (auth as unknown as VerifierInternals).idTokenVerifier?.signatureVerifier
    ?.keyFetcher;
  if (inner === undefined || typeof inner.refresh !== "function") {
    throw new AuthConfigError(
      "firebase-admin's key fetcher was not found: the runtime needs firebase-admin 13.10.0 exactly",
    );
  }
  const keys = createKeyCache(inner, timeoutMs);
  const accounts =
    revocationCache === undefined
      ? undefined
      : createRevocationCache(accountLookup(auth), revocationCache);
  // Every fetch firebase-admin makes now goes through the cache: single-flight, bounded.
  inner.fetchPublicKeys = () => keys.get();

  return {
    async verify(token: string, signal?: AbortSignal): Promise<Principal> {
      // Keys first, so a fetch failure is UNAVAILABLE and not a token error.
      await raceSignal(keys.get(), signal);
      let decoded: Record<string, unknown>;
      try {
        decoded = (await raceSignal(auth.verifyIdToken(token, false), signal)) as unknown as Record<
          string,
          unknown
        >;
      } catch (error) {
        throw toAuthError(error);
      }
      checkStandardClaims(decoded, Date.now(), skew);
      if (accounts !== undefined) await checkNotRevoked(accounts, decoded, signal);
      return principalOf(decoded);
    },
    ready: () => keys.get().then(() => undefined),
    keysLoaded: () => keys.loaded(),
    async close() {
      keys.close();
      accounts?.clear();
      await deleteApp(app);
    },
  };
}

/** A key cache over firebase-admin's fetcher. */
interface KeyCache {
  get(): Promise<Record<string, string | KeyObject>>;
  loaded(): boolean;
  close(): void;
}

function createKeyCache(inner: KeyFetcher, timeoutMs: number): KeyCache {
  let inflight: Promise<Record<string, string>> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let failures = 0;
  const fresh = (): boolean =>
    inner.publicKeys !== undefined && inner.publicKeysExpireAt > Date.now();

  const schedule = (): void => {
    if (closed) return;
    if (timer !== undefined) clearTimeout(timer);
    // Refresh at 90 % of the keys' lifetime; after a failure, back off up to a minute.
    const lifetime = inner.publicKeysExpireAt - Date.now();
    const delay =
      failures > 0
        ? Math.min(60_000, 1000 * 2 ** Math.min(failures, 6))
        : Math.max(1000, Math.floor(lifetime * 0.9));
    timer = setTimeout(() => {
      fetchOnce().catch(() => {
        // Logged by the caller that needs keys; the old keys stay until they expire.
      });
    }, delay);
    timer.unref();
  };

  const fetchOnce = (): Promise<Record<string, string>> => {
    if (inflight !== undefined) return inflight;
    const attempt = new Promise<Record<string, string>>((resolve, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new AuthError(
              "keys_unavailable",
              `Fetching the token signing keys took over ${timeoutMs} ms`,
            ),
          ),
        timeoutMs,
      );
      inner.refresh().then(
        (k) => {
          clearTimeout(t);
          resolve(k);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(
            new AuthError(
              "keys_unavailable",
              `Fetching the token signing keys failed: ${e instanceof Error ? e.message : String(e)}`,
            ),
          );
        },
      );
    });
    inflight = attempt.then(
      (k) => {
        // Keys served without Cache-Control would be refetched on every call: keep them 5 min.
        if (inner.publicKeysExpireAt <= Date.now()) inner.publicKeysExpireAt = Date.now() + 300_000;
        failures = 0;
        inflight = undefined;
        schedule();
        return k;
      },
      (e: unknown) => {
        failures += 1;
        inflight = undefined;
        schedule();
        throw e;
      },
    );
    return inflight;
  };

  // PEM parsed once per fetch: jsonwebtoken parses a PEM string on every verification, which
  // measured as a quarter of a verified call's CPU time; it takes a KeyObject as it is.
  let parsedFrom: Record<string, string> | undefined;
  let parsed: Record<string, string | KeyObject> = {};
  const objects = (pems: Record<string, string>): Record<string, string | KeyObject> => {
    if (parsedFrom !== pems) {
      parsed = {};
      for (const [kid, pem] of Object.entries(pems)) {
        try {
          parsed[kid] = createPublicKey(pem);
        } catch {
          parsed[kid] = pem; // left to jsonwebtoken, which reports it
        }
      }
      parsedFrom = pems;
    }
    return parsed;
  };
  return {
    get() {
      if (fresh() && inner.publicKeys !== undefined) {
        return Promise.resolve(objects(inner.publicKeys));
      }
      return fetchOnce().then(objects);
    },
    loaded: fresh,
    close() {
      closed = true;
      if (timer !== undefined) clearTimeout(timer);
    },
  };
}

/** What the revocation check needs of an account; undefined for a user not in the project. */
interface AccountState {
  readonly disabled: boolean;
  /** When the user's tokens were last revoked (`tokensValidAfterTime`), epoch ms; 0 if never. */
  readonly validSinceMs: number;
}

/** The Identity Toolkit lookup (`accounts:lookup`) of one uid; a deleted user is an answer too. */
function accountLookup(auth: Auth): (uid: string) => Promise<AccountState | undefined> {
  return async (uid) => {
    try {
      const user = await auth.getUser(uid);
      return {
        disabled: user.disabled,
        validSinceMs:
          user.tokensValidAfterTime === undefined
            ? 0
            : new Date(user.tokensValidAfterTime).getTime(),
      };
    } catch (error) {
      if ((error as { code?: unknown }).code === "auth/user-not-found") return undefined;
      throw error;
    }
  };
}

/**
 * What `verifyIdToken(token, true)` does after the signature, done here so that its two
 * outcomes stay apart and its lookup is cached: the user's account is disabled, deleted, or
 * its tokens were revoked after this token's sign-in (`auth_time` before
 * `tokensValidAfterTime`): UNAUTHENTICATED, reason `revoked`; the lookup itself failed
 * (network, credentials, quota, timeout): UNAVAILABLE, reason `revocation_unavailable`, as the
 * token may well be valid and a caller told UNAUTHENTICATED would sign its user out.
 */
async function checkNotRevoked(
  accounts: RevocationCache<AccountState | undefined>,
  decoded: Record<string, unknown>,
  signal: AbortSignal | undefined,
): Promise<void> {
  const account = await accounts.get(String(decoded.sub), signal);
  const authTime = typeof decoded.auth_time === "number" ? decoded.auth_time * 1000 : 0;
  if (account === undefined || account.disabled || authTime < account.validSinceMs) {
    throw new AuthError("revoked", "The token was revoked or the user disabled");
  }
}

/** The reason of a firebase-admin verification error, from its code and message. */
function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const reason: AuthFailureReason =
    code === "auth/id-token-expired"
      ? "expired"
      : code === "auth/id-token-revoked" || code === "auth/user-disabled"
        ? "revoked"
        : message.includes('"aud"')
          ? "wrong_audience"
          : message.includes('"iss"')
            ? "wrong_issuer"
            : message.includes("invalid signature")
              ? "bad_signature"
              : message.includes('"kid"')
                ? "unknown_key"
                : message.includes('"sub"')
                  ? "bad_subject"
                  : "invalid_token";
  const text: Record<AuthFailureReason, string> = {
    missing_token: "No token",
    malformed_header: "Malformed authorization header",
    invalid_token: "The token is not a valid Firebase ID token",
    expired: "The token has expired",
    bad_signature: "The token's signature is invalid",
    unknown_key: "The token is signed with an unknown key",
    wrong_audience: "The token is for another project",
    wrong_issuer: "The token has the wrong issuer",
    not_yet_valid: "The token is not valid yet",
    bad_subject: "The token's subject is invalid",
    revoked: "The token was revoked or the user disabled",
    keys_unavailable: "Token signing keys are unavailable",
    revocation_unavailable: "Could not check whether the token was revoked; retry later",
    permission_denied: "Permission denied",
  };
  return new AuthError(reason, text[reason]);
}

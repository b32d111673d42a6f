/**
 * Revocation for any OIDC/JWKS issuer: token introspection (RFC 7662). A JWT's signature says
 * who issued it, not whether the issuer has since revoked it (a sign-out, a disabled account);
 * only the issuer knows, at its introspection endpoint. After the wrapped verifier accepts a
 * token, the token is POSTed there with the service's client credentials (HTTP Basic,
 * `client_secret_basic`); `active: false` is UNAUTHENTICATED with reason `revoked`. The
 * answers go through the same cache as Firebase's account lookups (`createRevocationCache`:
 * a short TTL per token, one request in flight per token, a timeout), and an endpoint that
 * cannot be asked or answers anything but RFC 7662 JSON is UNAVAILABLE with reason
 * `revocation_unavailable`.
 */
import {
  createRevocationCache,
  type RevocationCacheOptions,
  revocationCacheOptions,
} from "./revocation-cache.js";
import { AuthConfigError, AuthError, type TokenVerifier } from "./token-verifier.js";

/** Options of {@link introspectTokens}. */
export interface IntrospectionOptions {
  /** The issuer's introspection endpoint (`introspection_endpoint` of its discovery document). */
  readonly url: string;
  /** The client id this service authenticates to the endpoint with. */
  readonly clientId: string;
  /** That client's secret. */
  readonly clientSecret: string;
  /** The cache of answers, keyed by token; see {@link RevocationCacheOptions} for the defaults. */
  readonly cache?: RevocationCacheOptions;
}

/** The `authorization` header of client credentials (RFC 6749 2.3.1: each part form-encoded). */
function basicAuthorization(clientId: string, clientSecret: string): string {
  const form = (v: string): string => encodeURIComponent(v).replace(/%20/g, "+");
  return `Basic ${Buffer.from(`${form(clientId)}:${form(clientSecret)}`).toString("base64")}`;
}

/** One introspection request: whether the endpoint says `token` is active. */
function introspector(
  options: IntrospectionOptions,
): (token: string, signal: AbortSignal) => Promise<boolean> {
  const authorization = basicAuthorization(options.clientId, options.clientSecret);
  return async (token, signal) => {
    const response = await fetch(options.url, {
      method: "POST",
      headers: {
        authorization,
        "content-type": "application/x-www-form-urlencoded",
        accept: "application/json",
      },
      body: new URLSearchParams({ token, token_type_hint: "access_token" }).toString(),
      signal,
    });
    if (!response.ok) {
      await response.body?.cancel();
      throw new Error(`The introspection endpoint answered HTTP ${response.status}`);
    }
    const body = (await response.json()) as { active?: unknown } | null;
    if (typeof body?.active !== "boolean") {
      throw new Error("The introspection endpoint's answer has no boolean `active`");
    }
    return body.active;
  };
}

/**
 * `verifier` with every token it accepts also introspected at the issuer: an inactive
 * (revoked, expired at the issuer, unknown) token is refused with UNAUTHENTICATED, reason
 * `revoked`; an endpoint that is down, slow or answers an error is UNAVAILABLE, reason
 * `revocation_unavailable`. Refused tokens are never sent to the endpoint. Wrap a verifier
 * whose verifications are cached (`cacheVerifications`): the revocation answer has its own,
 * shorter TTL. Throws {@link AuthConfigError} for a URL that does not parse.
 */
export function introspectTokens(
  verifier: TokenVerifier,
  options: IntrospectionOptions,
): TokenVerifier {
  try {
    new URL(options.url);
  } catch {
    throw new AuthConfigError(`The introspection URL "${options.url}" is not a URL`);
  }
  const answers = createRevocationCache(introspector(options), options.cache);
  return {
    async verify(token, signal) {
      const principal = await verifier.verify(token, signal);
      if (!(await answers.get(token, signal))) {
        throw new AuthError("revoked", "The token was revoked");
      }
      return principal;
    },
    ready: () => verifier.ready(),
    keysLoaded: () => verifier.keysLoaded(),
    async close() {
      answers.clear();
      await verifier.close();
    },
  };
}

/** The introspection variables, all three needed together. */
const variables = [
  "AUTH_INTROSPECTION_URL",
  "AUTH_INTROSPECTION_CLIENT_ID",
  "AUTH_INTROSPECTION_CLIENT_SECRET",
] as const;

/**
 * The introspection `env` configures (`AUTH_INTROSPECTION_URL`, `AUTH_INTROSPECTION_CLIENT_ID`,
 * `AUTH_INTROSPECTION_CLIENT_SECRET`, and the cache's `AUTH_REVOCATION_CACHE_MS` and
 * `AUTH_REVOCATION_TIMEOUT_MS`); undefined when none of the three is set. Throws
 * {@link AuthConfigError} naming what is missing or malformed.
 */
export function introspectionFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): IntrospectionOptions | undefined {
  const get = (name: string): string => (env[name] ?? "").trim();
  const set = variables.filter((n) => get(n) !== "");
  if (set.length === 0) return undefined;
  const missing = variables.filter((n) => get(n) === "");
  if (missing.length > 0) {
    throw new AuthConfigError(
      `Token introspection needs ${variables.join(", ")}; missing: ${missing.join(", ")}`,
    );
  }
  const url = get("AUTH_INTROSPECTION_URL");
  try {
    new URL(url);
  } catch {
    throw new AuthConfigError(`AUTH_INTROSPECTION_URL="${url}" is not a URL`);
  }
  return {
    url,
    clientId: get("AUTH_INTROSPECTION_CLIENT_ID"),
    clientSecret: get("AUTH_INTROSPECTION_CLIENT_SECRET"),
    cache: revocationCacheOptions(env),
  };
}

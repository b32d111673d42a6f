/**
 * The token verifier the environment configures: Firebase when `FIREBASE_PROJECT_ID` is set,
 * a JWKS issuer when `AUTH_JWKS_URL`, `AUTH_ISSUER` and `AUTH_AUDIENCE` are set, none (every
 * call anonymous) otherwise or with `SVCGEN_AUTH=false`. A half-configured issuer is an error
 * naming what is missing, never a silent fallback to anonymous. Verified tokens are cached
 * (`cacheVerifications`: up to their expiry, at most 60 s), except with Firebase's revocation
 * check (`FIREBASE_CHECK_REVOKED=true`), whose account lookup runs inside each verification.
 * A JWKS issuer's revocation check is token introspection (`AUTH_INTROSPECTION_*`), outside
 * that cache: its answers have their own shorter TTL (`AUTH_REVOCATION_CACHE_MS`).
 */
import { introspectionFromEnv, introspectTokens } from "./token-introspection.js";
import { AuthConfigError, type TokenVerifier } from "./token-verifier.js";
import { cacheVerifications } from "./verification-cache.js";

/** Which verifier {@link verifierFromEnv} chose, for the start-up log line. */
export type VerifierKind = "firebase" | "jwks" | "none";

/** A verifier and how it was chosen. */
export interface ConfiguredVerifier {
  readonly kind: VerifierKind;
  /** Undefined for `none`. */
  readonly verifier: TokenVerifier | undefined;
  /** What was configured, safe to log (project id, or issuer and JWKS URL). */
  readonly description: string;
}

/**
 * Reads the verifier settings from `env`. Rejects with {@link AuthConfigError} naming the
 * variables when they are contradictory or incomplete. The chosen issuer's library is loaded
 * only then (firebase-admin takes a while to import, and a JWKS service never needs it).
 */
export async function verifierFromEnv(
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<ConfiguredVerifier> {
  const get = (name: string): string => (env[name] ?? "").trim();
  const switchText = get("SVCGEN_AUTH").toLowerCase();
  if (!["", "true", "on", "false", "off"].includes(switchText)) {
    throw new AuthConfigError(`SVCGEN_AUTH must be true or false, got "${env.SVCGEN_AUTH}"`);
  }
  if (switchText === "false" || switchText === "off") {
    return { kind: "none", verifier: undefined, description: "auth off (SVCGEN_AUTH=false)" };
  }
  const firebase = get("FIREBASE_PROJECT_ID");
  const jwks = ["AUTH_JWKS_URL", "AUTH_ISSUER", "AUTH_AUDIENCE"] as const;
  const jwksSet = jwks.filter((n) => get(n) !== "");
  if (firebase !== "" && jwksSet.length > 0) {
    throw new AuthConfigError(
      `Both FIREBASE_PROJECT_ID and ${jwksSet.join(", ")} are set: configure one token issuer`,
    );
  }
  const introspection = introspectionFromEnv(env);
  if (firebase !== "") {
    if (introspection !== undefined) {
      throw new AuthConfigError(
        "AUTH_INTROSPECTION_URL is for a JWKS issuer; with Firebase, set FIREBASE_CHECK_REVOKED=true instead",
      );
    }
    return {
      kind: "firebase",
      verifier: await (async () => {
        const v = (await import("./firebase-verifier.js")).createFirebaseVerifier({ env });
        return get("FIREBASE_CHECK_REVOKED") === "true" ? v : cacheVerifications(v);
      })(),
      description: `Firebase project ${firebase}`,
    };
  }
  if (jwksSet.length > 0) {
    const missing = jwks.filter((n) => get(n) === "");
    if (missing.length > 0) {
      throw new AuthConfigError(
        `JWKS auth needs AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE; missing: ${missing.join(", ")}`,
      );
    }
    let url: URL;
    try {
      url = new URL(get("AUTH_JWKS_URL"));
    } catch {
      throw new AuthConfigError(`AUTH_JWKS_URL="${get("AUTH_JWKS_URL")}" is not a URL`);
    }
    const audience = get("AUTH_AUDIENCE")
      .split(",")
      .map((a) => a.trim())
      .filter((a) => a !== "");
    const verified = cacheVerifications(
      (await import("./jwks-verifier.js")).createJwksVerifier({
        jwksUrl: url.href,
        issuer: get("AUTH_ISSUER"),
        audience,
      }),
    );
    return {
      kind: "jwks",
      verifier: introspection === undefined ? verified : introspectTokens(verified, introspection),
      description:
        `issuer ${get("AUTH_ISSUER")}, keys ${url.href}` +
        (introspection === undefined
          ? ""
          : `, revocation by introspection at ${introspection.url}`),
    };
  }
  if (introspection !== undefined) {
    throw new AuthConfigError(
      "AUTH_INTROSPECTION_URL is set without a token issuer: set AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE",
    );
  }
  return {
    kind: "none",
    verifier: undefined,
    description: "no token issuer configured (FIREBASE_PROJECT_ID or AUTH_JWKS_URL)",
  };
}

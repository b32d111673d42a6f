/**
 * Tokens of any OIDC/JWKS issuer (Auth0, Keycloak, Supabase, Google, ...), verified with jose:
 * its remote key set already fetches one at a time with a timeout and a cooldown; this adds
 * the prefetch for readiness and the claims checks every verifier shares.
 */
import { createRemoteJWKSet, errors, jwtVerify } from "jose";
import {
  AuthError,
  type AuthFailureReason,
  checkStandardClaims,
  type Principal,
  principalOf,
  raceSignal,
  type TokenVerifier,
} from "./token-verifier.js";

/** Options of {@link createJwksVerifier}. */
export interface JwksVerifierOptions {
  /** The issuer's JWKS URL (`jwks_uri` of its OIDC discovery document). */
  readonly jwksUrl: string;
  /** Expected `iss`. */
  readonly issuer: string;
  /** Expected `aud`. */
  readonly audience: string | readonly string[];
  /** Accepted algorithms. Default RS256 and ES256. */
  readonly algorithms?: readonly string[];
  /** Longest wait for one key fetch, ms. Default 5000. */
  readonly keyFetchTimeoutMs?: number;
  /** Clock drift allowed on time claims, seconds. Default 0. */
  readonly clockSkewSeconds?: number;
}

/** A {@link TokenVerifier} for JWTs signed by keys from a JWKS URL. */
export function createJwksVerifier(options: JwksVerifierOptions): TokenVerifier {
  const timeoutMs = options.keyFetchTimeoutMs ?? 5000;
  const jwks = createRemoteJWKSet(new URL(options.jwksUrl), {
    timeoutDuration: timeoutMs,
    cacheMaxAge: 600_000,
    cooldownDuration: 30_000,
  });
  const skew = options.clockSkewSeconds ?? 0;
  let loaded = false;
  return {
    async verify(token: string, signal?: AbortSignal): Promise<Principal> {
      let payload: Record<string, unknown>;
      try {
        const result = await raceSignal(
          jwtVerify(token, jwks, {
            issuer: options.issuer,
            audience: [
              ...(typeof options.audience === "string" ? [options.audience] : options.audience),
            ],
            algorithms: [...(options.algorithms ?? ["RS256", "ES256"])],
            clockTolerance: skew,
          }),
          signal,
        );
        payload = result.payload as Record<string, unknown>;
        loaded = true;
      } catch (error) {
        throw toAuthError(error);
      }
      checkStandardClaims(payload, Date.now(), skew);
      return principalOf(payload);
    },
    async ready() {
      try {
        await jwks.reload();
        loaded = true;
      } catch (error) {
        throw toAuthError(error);
      }
    },
    keysLoaded: () => loaded,
    async close() {},
  };
}

function toAuthError(error: unknown): AuthError {
  if (error instanceof AuthError) return error;
  const [reason, message]: [AuthFailureReason, string] =
    error instanceof errors.JWTExpired
      ? ["expired", "The token has expired"]
      : error instanceof errors.JWTClaimValidationFailed
        ? error.claim === "aud"
          ? ["wrong_audience", "The token is for another audience"]
          : error.claim === "iss"
            ? ["wrong_issuer", "The token has the wrong issuer"]
            : error.claim === "nbf" || error.claim === "iat"
              ? ["not_yet_valid", "The token is not valid yet"]
              : ["invalid_token", "The token's claims are invalid"]
        : error instanceof errors.JWSSignatureVerificationFailed
          ? ["bad_signature", "The token's signature is invalid"]
          : error instanceof errors.JWKSNoMatchingKey
            ? ["unknown_key", "The token is signed with an unknown key"]
            : error instanceof errors.JWKSTimeout ||
                error instanceof errors.JOSEError === false ||
                (error as { code?: unknown }).code === "ERR_JOSE_GENERIC"
              ? ["keys_unavailable", "Token signing keys are unavailable"]
              : ["invalid_token", "The token is not valid"];
  return new AuthError(reason, message);
}

/**
 * A token issuer for tests: an RSA key pair made when it starts, its public key served as a
 * JWKS on loopback, and `token()` minting real RS256 tokens. A service accepts these tokens
 * only when a test configures it with this issuer (a JWKS verifier pointed at `jwksUrl`, see
 * `verifierOptions`); nothing in the runtime trusts it by default, so auth rules are exercised
 * exactly as in production, signature checks included.
 */
import { generateKeyPairSync, type KeyObject, randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, SignJWT } from "jose";
import type { JwksVerifierOptions } from "../auth/jwks-verifier.js";

/** What a minted token says; every field is optional. */
export interface TestTokenClaims {
  /** The subject (the principal's uid). Default `test-user`. */
  readonly uid?: string;
  /** The `roles` claim the auth rules read. Default none. */
  readonly roles?: readonly string[];
  /** The `email` claim. */
  readonly email?: string;
  /** Any further claims, merged over the standard ones (so a test can forge `iss` or `aud`). */
  readonly claims?: Readonly<Record<string, unknown>>;
  /**
   * Lifetime: seconds, or a jose time span (`"1h"`, `"-5m"` for an already expired token).
   * Default one hour.
   */
  readonly expiresIn?: number | string;
}

/** Options of {@link createTestIssuer}. */
export interface TestIssuerOptions {
  /** The `iss` of minted tokens. Default `https://test-issuer.svcgen.invalid/<random>`. */
  readonly issuer?: string;
  /** The `aud` of minted tokens. Default `svcgen-test`. */
  readonly audience?: string;
  /** Loopback interface to serve the JWKS on. Default `127.0.0.1`. */
  readonly host?: string;
}

/** A running test issuer; `close()` stops its JWKS server. */
export interface TestIssuer {
  readonly issuer: string;
  readonly audience: string;
  /** `http://127.0.0.1:<port>/jwks.json`. */
  readonly jwksUrl: string;
  /** Options for `createJwksVerifier` that accept exactly this issuer's tokens. */
  readonly verifierOptions: JwksVerifierOptions;
  /** A signed RS256 token for these claims. */
  token(claims?: TestTokenClaims): Promise<string>;
  /** `{ authorization: "Bearer <token>" }`, ready for a client call's metadata. */
  authorization(claims?: TestTokenClaims): Promise<Record<string, string>>;
  /** How many times the JWKS was fetched (a verifier caches it). */
  jwksRequests(): number;
  close(): Promise<void>;
}

/**
 * Starts a test issuer. Tokens it mints carry `kid` of its one key, `iat`, `exp`, `iss`, `aud`
 * and `sub`; a token signed by any other key (another issuer's) fails verification with
 * UNAUTHENTICATED at a service configured with this one.
 */
export async function createTestIssuer(options: TestIssuerOptions = {}): Promise<TestIssuer> {
  const issuer = options.issuer ?? `https://test-issuer.svcgen.invalid/${randomUUID()}`;
  const audience = options.audience ?? "svcgen-test";
  const host = options.host ?? "127.0.0.1";
  const kid = randomUUID();
  // 2048 bits: the smallest size jose accepts for RS256; made once per issuer.
  const { privateKey, publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "RS256", use: "sig" };
  const body = JSON.stringify({ keys: [jwk] });
  let requests = 0;
  const server = createServer((req, res) => {
    if (req.url !== "/jwks.json") {
      res.writeHead(404).end();
      return;
    }
    requests++;
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const jwksUrl = `http://${host.includes(":") ? `[${host}]` : host}:${port}/jwks.json`;
  const token = (claims: TestTokenClaims = {}): Promise<string> =>
    sign(privateKey, kid, issuer, audience, claims);
  return {
    issuer,
    audience,
    jwksUrl,
    verifierOptions: { jwksUrl, issuer, audience, algorithms: ["RS256"], keyFetchTimeoutMs: 2000 },
    token,
    async authorization(claims) {
      return { authorization: `Bearer ${await token(claims)}` };
    },
    jwksRequests: () => requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

const spanUnits: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86400 };

/** Seconds of a lifetime: a number of seconds or a span like `"1h"`, `"-5m"`, `"30s"`. */
function lifetimeSeconds(value: number | string): number {
  if (typeof value === "number") return value;
  const m = /^\s*(-?\d+)\s*([smhd])\s*$/.exec(value);
  const unit = m?.[2] === undefined ? undefined : spanUnits[m[2]];
  if (m === null || unit === undefined) {
    throw new Error(
      `expiresIn ${JSON.stringify(value)} is not seconds or a span like "1h" or "-5m"`,
    );
  }
  return Number(m[1]) * unit;
}

function sign(
  key: KeyObject,
  kid: string,
  issuer: string,
  audience: string,
  claims: TestTokenClaims,
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const lifetime = lifetimeSeconds(claims.expiresIn ?? 3600);
  const payload: Record<string, unknown> = {
    iss: issuer,
    aud: audience,
    sub: claims.uid ?? "test-user",
    // An expired token was also issued in the past, or it would read as not yet valid.
    iat: lifetime < 0 ? now + lifetime - 60 : now,
    exp: now + lifetime,
    ...(claims.roles === undefined ? {} : { roles: [...claims.roles] }),
    ...(claims.email === undefined ? {} : { email: claims.email }),
    // Last, so that a test can override any standard claim (a wrong `aud`, say).
    ...claims.claims,
  };
  return new SignJWT(payload).setProtectedHeader({ alg: "RS256", kid, typ: "JWT" }).sign(key);
}

/**
 * The verifier the environment configures, and the cache of verified tokens: a JWKS issuer
 * from `AUTH_*` (real keys on loopback, real RS256 tokens), Firebase from
 * `FIREBASE_PROJECT_ID`, none without either, a clear error for a half or double
 * configuration; a verified token is reused until it expires (or the cache's maximum age),
 * a refused one is verified again every time.
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server } from "node:http";
import {
  AuthConfigError,
  cacheVerifications,
  isAuthError,
  type TokenVerifier,
  verifierFromEnv,
} from "@svcgen/runtime/auth";
import { exportJWK, SignJWT } from "jose";
import { afterAll, beforeAll, expect, test } from "vitest";

const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
const issuer = "https://issuer.env.test";
let keys: Server;
let jwksUrl = "";

beforeAll(async () => {
  const jwk = { ...(await exportJWK(key.publicKey)), kid: "k1", alg: "RS256", use: "sig" };
  keys = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => keys.listen(0, "127.0.0.1", r));
  const a = keys.address();
  jwksUrl = `http://127.0.0.1:${typeof a === "object" && a !== null ? a.port : 0}/jwks.json`;
});

afterAll(() => {
  keys?.close();
});

function token(sub: string, expiresInSeconds: number, audience = "api"): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: "RS256", kid: "k1" })
    .setIssuer(issuer)
    .setAudience(audience)
    .setSubject(sub)
    .setIssuedAt(now - 1)
    .setExpirationTime(now + expiresInSeconds)
    .sign(key.privateKey);
}

test("the issuer comes from the environment; half or double configurations are refused by name", async () => {
  const none = await verifierFromEnv({});
  expect(none.kind).toBe("none");
  expect(none.verifier).toBeUndefined();

  const jwks = await verifierFromEnv({
    AUTH_JWKS_URL: jwksUrl,
    AUTH_ISSUER: issuer,
    AUTH_AUDIENCE: "other, api",
  });
  expect(jwks.kind).toBe("jwks");
  const v = jwks.verifier as TokenVerifier;
  expect(v.keysLoaded()).toBe(false);
  await v.ready();
  expect(v.keysLoaded()).toBe(true);
  expect((await v.verify(await token("u-1", 60))).uid).toBe("u-1");
  await v.close();

  const firebase = await verifierFromEnv({ FIREBASE_PROJECT_ID: "proj-1" });
  expect(firebase.kind).toBe("firebase");
  await firebase.verifier?.close();

  await expect(verifierFromEnv({ AUTH_JWKS_URL: jwksUrl })).rejects.toThrow(
    /missing: AUTH_ISSUER, AUTH_AUDIENCE/,
  );
  await expect(
    verifierFromEnv({ FIREBASE_PROJECT_ID: "p", AUTH_ISSUER: issuer }),
  ).rejects.toBeInstanceOf(AuthConfigError);
  await expect(
    verifierFromEnv({ AUTH_JWKS_URL: "not a url", AUTH_ISSUER: issuer, AUTH_AUDIENCE: "api" }),
  ).rejects.toThrow(/AUTH_JWKS_URL="not a url" is not a URL/);
  expect((await verifierFromEnv({ SVCGEN_AUTH: "false", FIREBASE_PROJECT_ID: "p" })).kind).toBe(
    "none",
  );
});

test("a verified token is reused until it expires or ages out; refusals are never cached", async () => {
  const env = { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: issuer, AUTH_AUDIENCE: "api" };
  const inner = (await verifierFromEnv(env)).verifier as TokenVerifier;
  let verifications = 0;
  const counting: TokenVerifier = {
    ...inner,
    verify: (t, s) => {
      verifications++;
      return inner.verify(t, s);
    },
  };
  const cached = cacheVerifications(counting);

  // At least two seconds of validity (exp is in whole seconds), so a loaded machine cannot
  // see it expire before the first two calls.
  const good = await token("u-2", 3);
  expect((await cached.verify(good)).uid).toBe("u-2");
  expect((await cached.verify(good)).uid).toBe("u-2");
  expect(verifications).toBe(1);

  // Past the token's own expiry: verified again, and refused.
  const exp = JSON.parse(Buffer.from(good.split(".")[1] ?? "", "base64url").toString()).exp;
  await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
  const expired = await cached.verify(good).catch((e: unknown) => e);
  expect(isAuthError(expired) && expired.reason).toBe("expired");
  expect(verifications).toBe(2);

  // A long-lived token ages out of the cache after maxAgeMs.
  let clock = Date.now();
  const aging = cacheVerifications(counting, { maxAgeMs: 10_000, now: () => clock });
  const long = await token("u-3", 3600);
  await aging.verify(long);
  await aging.verify(long);
  expect(verifications).toBe(3);
  clock += 11_000;
  await aging.verify(long);
  expect(verifications).toBe(4);

  // A token for another audience is refused each time it is presented.
  const wrong = await token("u-4", 60, "someone-else");
  for (let i = 0; i < 2; i++) {
    const e = await cached.verify(wrong).catch((x: unknown) => x);
    expect(isAuthError(e) && e.reason).toBe("wrong_audience");
  }
  expect(verifications).toBe(6);
  await cached.close();
});

test("token introspection comes from the environment; half, misplaced or malformed settings are refused by name", async () => {
  const jwks = { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: issuer, AUTH_AUDIENCE: "api" };
  const introspection = {
    AUTH_INTROSPECTION_URL: "http://127.0.0.1:1/introspect",
    AUTH_INTROSPECTION_CLIENT_ID: "svc",
    AUTH_INTROSPECTION_CLIENT_SECRET: "secret",
  };
  const configured = await verifierFromEnv({ ...jwks, ...introspection });
  expect(configured.kind).toBe("jwks");
  expect(configured.description).toContain("revocation by introspection at http://127.0.0.1:1/");
  // The client secret is never part of what is logged.
  expect(configured.description).not.toContain("secret");
  await configured.verifier?.close();

  await expect(
    verifierFromEnv({ ...jwks, AUTH_INTROSPECTION_URL: introspection.AUTH_INTROSPECTION_URL }),
  ).rejects.toThrow(/missing: AUTH_INTROSPECTION_CLIENT_ID, AUTH_INTROSPECTION_CLIENT_SECRET/);
  await expect(
    verifierFromEnv({ ...jwks, ...introspection, AUTH_INTROSPECTION_URL: "nope" }),
  ).rejects.toThrow(/AUTH_INTROSPECTION_URL="nope" is not a URL/);
  await expect(verifierFromEnv({ FIREBASE_PROJECT_ID: "p", ...introspection })).rejects.toThrow(
    /FIREBASE_CHECK_REVOKED=true instead/,
  );
  await expect(verifierFromEnv(introspection)).rejects.toBeInstanceOf(AuthConfigError);
  await expect(
    verifierFromEnv({ ...jwks, ...introspection, AUTH_REVOCATION_CACHE_MS: "10s" }),
  ).rejects.toThrow(/AUTH_REVOCATION_CACHE_MS must be a whole number of milliseconds, got "10s"/);
  await expect(
    verifierFromEnv({
      FIREBASE_PROJECT_ID: "p",
      FIREBASE_CHECK_REVOKED: "true",
      AUTH_REVOCATION_TIMEOUT_MS: "0",
    }),
  ).rejects.toThrow(
    /AUTH_REVOCATION_TIMEOUT_MS must be a whole number of milliseconds of at least 1/,
  );
});

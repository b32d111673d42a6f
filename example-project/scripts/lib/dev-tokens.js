// Development tokens for the running example. The services verify tokens exactly as in
// production, against a JWKS issuer given by AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE;
// here that issuer is a local one (`createTestIssuer` from @svcgen/runtime/testing: a fresh RSA
// key, its public half served as a JWKS on loopback). `npm run example:call` runs in another
// process, so this also serves GET /token?uid=...&roles=a,b on loopback, which mints a token
// with the issuer's private key (the key never leaves this process). Development only.
import { createServer } from "node:http";
import { createTestIssuer } from "@svcgen/runtime/testing";

/**
 * Starts the issuer and the token endpoint.
 * @returns {Promise<{ env: Record<string, string>, tokenUrl: string, authorization: (uid: string, roles?: string[], more?: object) => Promise<Record<string, string>>, close: () => Promise<void> }>}
 */
export async function startDevTokens() {
  const issuer = await createTestIssuer({
    issuer: "https://dev-issuer.svcgen.invalid/example",
    audience: "svcgen-example",
  });
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    const uid = url.searchParams.get("uid");
    if (url.pathname !== "/token" || uid === null || uid === "") {
      res.writeHead(400, { "content-type": "text/plain" }).end("GET /token?uid=<uid>&roles=a,b\n");
      return;
    }
    const roles = (url.searchParams.get("roles") ?? "").split(",").filter((r) => r !== "");
    const token = await issuer.token({ uid, roles, expiresIn: "1h" });
    res.writeHead(200, { "content-type": "text/plain" }).end(token);
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve(undefined));
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    /** What the services need to verify these tokens. */
    env: {
      AUTH_JWKS_URL: issuer.jwksUrl,
      AUTH_ISSUER: issuer.issuer,
      AUTH_AUDIENCE: issuer.audience,
    },
    tokenUrl: `http://127.0.0.1:${port}/token`,
    /**
     * Call metadata `{ authorization: "Bearer ..." }` of a user with these roles; `more` adds
     * claims (`{ email: "a@example.com", claims: { email_verified: true } }`).
     */
    authorization: (uid, roles = [], more = {}) =>
      issuer.authorization({ ...more, uid, roles, expiresIn: "1h" }),
    async close() {
      await new Promise((resolve) => {
        server.close(() => resolve(undefined));
        server.closeAllConnections();
      });
      await issuer.close();
    },
  };
}

/**
 * A development token from a running example's token endpoint (for example:call).
 * @param {string} tokenUrl
 * @param {string} uid
 * @param {string[]} roles
 */
export async function fetchDevToken(tokenUrl, uid, roles) {
  const url = new URL(tokenUrl);
  url.searchParams.set("uid", uid);
  if (roles.length > 0) url.searchParams.set("roles", roles.join(","));
  const res = await fetch(url);
  if (!res.ok)
    throw new Error(`The example's token endpoint answered ${res.status}: ${await res.text()}`);
  return res.text();
}

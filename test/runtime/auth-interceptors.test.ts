/**
 * The chain's interceptors (auth, metrics, call log) on calls built the way the runtime's
 * chain builds them, with the JWKS verifier fetching real keys from a JWKS server on
 * loopback: roles give PERMISSION_DENIED with a security line, a missing token on an
 * authenticated method UNAUTHENTICATED, a public method passes anonymously, and the metrics
 * and call log record each call's code.
 */
import { generateKeyPairSync } from "node:crypto";
import { createServer, type Server as HttpServer } from "node:http";
import { Metadata, status } from "@grpc/grpc-js";
import {
  createAuthInterceptor,
  createJwksVerifier,
  type TokenVerifier,
} from "@svcgen/runtime/auth";
import type { AuthRule, CallContext, Principal } from "@svcgen/runtime/grpc";
import {
  createCallLogInterceptor,
  createMetricsInterceptor,
  createMetricsRegistry,
  createServiceLogger,
  metricsText,
  registerAuthMetrics,
  registerGrpcServerMetrics,
  securityEventLogger,
} from "@svcgen/runtime/telemetry";
import { exportJWK, SignJWT } from "jose";
import { afterAll, beforeAll, expect, test } from "vitest";
import { UserService } from "../../example-project/gen/proto/example/user/v1/user_pb.js";
import type { ServerCall, ServerInterceptor } from "../../runtime/src/server/interceptor.js";
import { logLinesInto } from "./log-lines.js";

const issuer = "https://issuer.example.test";
const audience = "svcgen-api";
const key = generateKeyPairSync("rsa", { modulusLength: 2048 });
const stranger = generateKeyPairSync("rsa", { modulusLength: 2048 });
let jwksServer: HttpServer;
let jwksUp = true;
let verifier: TokenVerifier;
const lines: Record<string, unknown>[] = [];
const sink = logLinesInto(lines);

beforeAll(async () => {
  const jwk = { ...(await exportJWK(key.publicKey)), kid: "a", alg: "RS256", use: "sig" };
  jwksServer = createServer((_req, res) => {
    if (!jwksUp) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ keys: [jwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, "127.0.0.1", r));
  const a = jwksServer.address();
  const port = typeof a === "object" && a !== null ? a.port : 0;
  verifier = createJwksVerifier({
    jwksUrl: `http://127.0.0.1:${port}/jwks.json`,
    issuer,
    audience,
    keyFetchTimeoutMs: 500,
  });
  await verifier.ready();
});

afterAll(async () => {
  await verifier?.close();
  jwksServer?.close();
});

async function token(
  claims: Record<string, unknown>,
  signWith = key.privateKey,
  kid = "a",
): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: "RS256", kid })
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(signWith);
}

/** A call as the chain presents it: method info, context, principal slot. */
function makeCall(
  method: string,
  auth: AuthRule,
  authorization?: string,
): ServerCall & { principal(): Principal | undefined } {
  const metadata = new Metadata();
  if (authorization !== undefined) metadata.set("authorization", authorization);
  let principal: Principal | undefined;
  const listeners: { received?(): void; sent?(): void }[] = [];
  const ctx: CallContext = {
    method: `/acme.shop.v1.ShopService/${method}`,
    signal: new AbortController().signal,
    draining: new AbortController().signal,
    deadline: Number.POSITIVE_INFINITY,
    metadata,
    peer: "127.0.0.1:5555",
    get principal() {
      return principal;
    },
  };
  return {
    info: {
      service: "acme.shop.v1.ShopService",
      method,
      path: ctx.method,
      kind: "unary",
      policy: { auth, timeoutMs: 0, idempotent: true },
      // Auth, metrics and the call log never read the descriptor; any unary method will do.
      descriptor: UserService.method.getProfile,
    },
    ctx,
    startedAt: Date.now(),
    requestId: `req-${method}`,
    request: {},
    setPrincipal(p) {
      principal = p;
    },
    tightenDeadline() {},
    onMessage(l) {
      listeners.push(l);
    },
    principal: () => principal,
  };
}

const statusOf = (e: unknown): status =>
  typeof (e as { code?: unknown }).code === "number"
    ? (e as { code: status }).code
    : status.INTERNAL;

function run(
  chain: ServerInterceptor[],
  call: ServerCall,
  handler: () => Promise<void>,
): Promise<number> {
  const step = (i: number): Promise<void> => {
    const ic = chain[i];
    return ic === undefined ? handler() : ic(call, () => step(i + 1));
  };
  return step(0).then(
    () => status.OK,
    (e: unknown) => statusOf(e),
  );
}

test("roles, missing tokens, public methods: codes, security lines, metrics and call lines", async () => {
  const registry = createMetricsRegistry();
  const logger = createServiceLogger({ service: "shop", destination: sink, env: {} });
  const countFailure = registerAuthMetrics(registry);
  const chain = [
    createCallLogInterceptor(logger.log, statusOf),
    createMetricsInterceptor(registerGrpcServerMetrics(registry), statusOf),
    createAuthInterceptor({
      verifier,
      onSecurityEvent: (e) => {
        securityEventLogger(logger.security)(e);
        countFailure(e);
      },
    }),
  ];
  const admin: AuthRule = { kind: "roles", roles: ["admin"] };
  let seen: string | undefined;
  const handler = (call: ServerCall) => async () => {
    seen = call.ctx.principal?.uid;
  };

  const asAdmin = makeCall(
    "Refund",
    admin,
    `Bearer ${await token({ sub: "u-admin", roles: ["admin"] })}`,
  );
  expect(await run(chain, asAdmin, handler(asAdmin))).toBe(status.OK);
  expect(seen).toBe("u-admin");

  const asUser = makeCall(
    "Refund",
    admin,
    `Bearer ${await token({ sub: "u-1", roles: ["user"] })}`,
  );
  expect(await run(chain, asUser, handler(asUser))).toBe(status.PERMISSION_DENIED);

  const anonymous = makeCall("Checkout", { kind: "authenticated" });
  expect(await run(chain, anonymous, handler(anonymous))).toBe(status.UNAUTHENTICATED);

  const forged = makeCall(
    "Checkout",
    { kind: "authenticated" },
    `Bearer ${await token({ sub: "u-1" }, stranger.privateKey)}`,
  );
  expect(await run(chain, forged, handler(forged))).toBe(status.UNAUTHENTICATED);

  const browse = makeCall("Browse", { kind: "public" });
  seen = "unset";
  expect(await run(chain, browse, handler(browse))).toBe(status.OK);
  expect(seen).toBeUndefined();

  const security = lines.filter((l) => l.channel === "security");
  expect(security.map((l) => [l.event, l.reason, l.request_id, l.uid])).toEqual([
    ["permission_denied", "permission_denied", "req-Refund", "u-1"],
    ["auth_failure", "missing_token", "req-Checkout", undefined],
    ["auth_failure", "bad_signature", "req-Checkout", undefined],
  ]);
  const calls = lines.filter((l) => l.msg === "call");
  expect(calls.map((l) => [l.grpc_method, l.grpc_code, l.principal])).toEqual([
    ["Refund", "OK", "u-admin"],
    // The token was valid: the denied call's line names who was refused.
    ["Refund", "PermissionDenied", "u-1"],
    ["Checkout", "Unauthenticated", undefined],
    ["Checkout", "Unauthenticated", undefined],
    ["Browse", "OK", undefined],
  ]);
  const text = await metricsText(registry);
  const m = 'grpc_type="unary",grpc_service="acme.shop.v1.ShopService"';
  expect(text).toContain(
    `grpc_server_handled_total{${m},grpc_method="Refund",grpc_code="PermissionDenied"} 1`,
  );
  expect(text).toContain(
    `grpc_server_handled_total{${m},grpc_method="Checkout",grpc_code="Unauthenticated"} 2`,
  );
  expect(text).toContain('auth_failures_total{reason="missing_token"} 1');
  expect(text).toContain('auth_failures_total{reason="permission_denied"} 1');
});

test("an unexpected error is logged once, at error level, with its stack and correlation id", async () => {
  lines.length = 0;
  const logger = createServiceLogger({ service: "shop", destination: sink, env: {} });
  const call = makeCall("Browse", { kind: "public" });
  const code = await run([createCallLogInterceptor(logger.log, statusOf)], call, async () => {
    throw new Error("disk on fire");
  });
  expect(code).toBe(status.INTERNAL);
  expect(lines).toHaveLength(1);
  const [line] = lines;
  expect(line).toMatchObject({ level: 50, grpc_code: "Internal", correlation_id: "req-Browse" });
  expect(String((line?.err as { stack?: string }).stack)).toContain("disk on fire");
});

test("JWKS keys unavailable: UNAVAILABLE, not UNAUTHENTICATED", async () => {
  jwksUp = false;
  try {
    const v = createJwksVerifier({
      jwksUrl: `http://127.0.0.1:${(jwksServer.address() as { port: number }).port}/jwks.json`,
      issuer,
      audience,
      keyFetchTimeoutMs: 300,
    });
    await expect(v.verify(await token({ sub: "u-1" }))).rejects.toMatchObject({
      code: status.UNAVAILABLE,
      reason: "keys_unavailable",
    });
  } finally {
    jwksUp = true;
  }
});

/**
 * `@svcgen/runtime/testing`: building blocks for testing generated services. Import it only
 * from tests (never from a service's own code): a test token issuer (real keys, JWKS on
 * loopback), database outages, call-context helpers (deadlines, cancel mid-call, asserting
 * that server-side SQL was cancelled), fault-injection specs for `startServer`, test databases
 * (one migrated template per run, a fresh copy per test file or test) and in-process test
 * services (`startTestServer`, which a generated `gen/testing/<service>.ts` calls).
 */

export {
  type Fault,
  type FaultOptions,
  type FaultRule,
  FaultSpecError,
  formatRule,
  parseFaultSpec,
} from "../server/fault-interceptor.js";
export * from "./call-context.js";
export * from "./database-outage.js";
export * from "./test-databases.js";
export * from "./test-issuer.js";
export * from "./test-service.js";

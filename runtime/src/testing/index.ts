/**
 * `@svcgen/runtime/testing`: building blocks for testing generated services. Import it only
 * from tests (never from a service's own code): a test token issuer (real keys, JWKS on
 * loopback), database outages, call-context helpers (deadlines, cancel mid-call, asserting
 * that server-side SQL was cancelled), and fault-injection specs for `startServer`.
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
export * from "./test-issuer.js";

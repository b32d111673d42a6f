/**
 * `@svcgen/runtime/server`: running generated services. `startServer` (or `runMain` for a
 * program) serves services with the interceptor chain (order in `chain.ts`), health,
 * reflection, the HTTP side port, graceful shutdown, deadlines, retries, the database
 * breaker, bulkheads, load shedding, fallbacks and the per-constraint error map.
 */
export {
  type Authenticate,
  type AuthInterceptorOptions,
  createAuthInterceptor,
} from "../auth/auth-interceptor.js";
export * from "./bulkhead-interceptor.js";
export * from "./chain.js";
export * from "./database.js";
export * from "./deadline-interceptor.js";
export * from "./environment.js";
export * from "./error-map.js";
export * from "./fault-interceptor.js";
export * from "./interceptor.js";
export * from "./recover-interceptor.js";
export * from "./reflection.js";
export * from "./retry-interceptor.js";
export * from "./runtime-events.js";
export * from "./service-events.js";
export * from "./shedding-interceptor.js";
export * from "./side-port.js";
export {
  createJsonLogger,
  defineService,
  isMainModule,
  type Logger,
  type RegisteredService,
  runMain,
  type ServerFeatures,
  type ServerHandle,
  type StartServerOptions,
  startServer,
} from "./start-server.js";
export * from "./transient-errors.js";
export * from "./validation-interceptor.js";

/**
 * `@svcgen/runtime/telemetry`: logs, metrics and tracing for generated services. Tracing
 * starts in `@svcgen/runtime/telemetry/register`, which the entry point imports first.
 */

export * from "./call-log.js";
export * from "./grpc-metrics.js";
export * from "./logger.js";
export * from "./loki-transport.js";
export * from "./outbox-metrics.js";
export * from "./runtime-metrics.js";
export * from "./service-metrics.js";
export { attachTraceContext, CallScopedContextManager, withCallTrace } from "./trace-scope.js";

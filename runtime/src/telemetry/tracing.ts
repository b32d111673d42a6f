/**
 * OpenTelemetry tracing for a generated service: one trace from the client call through the
 * server handler to each SQL query and downstream call (W3C trace context in gRPC metadata).
 * This module imports neither grpc-js nor pg, so it can run before they load; it must, since
 * in an ESM process nothing is patched unless the loader hook is registered and the SDK
 * started before anything imports them (a bare `--import` of the instrumentation hook traces
 * nothing). `@svcgen/runtime/telemetry/register` does both from the environment.
 */
import { register } from "node:module";
import { GrpcInstrumentation } from "@opentelemetry/instrumentation-grpc";
import { PgInstrumentation } from "@opentelemetry/instrumentation-pg";
import { PinoInstrumentation } from "@opentelemetry/instrumentation-pino";
import { NodeSDK } from "@opentelemetry/sdk-node";
import {
  ParentBasedSampler,
  type SpanProcessor,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { setActiveTracing } from "./active-tracing.js";
import { enableServerSpans } from "./server-span.js";
import { CallScopedContextManager } from "./trace-scope.js";

/** The attribute naming the generated query of a SQL span. */
export const queryNameAttribute = "db.query.name";

/** Options of {@link startTracing}. */
export interface TracingOptions {
  /** `service.name` of the spans. */
  readonly serviceName: string;
  /**
   * Fraction of new traces recorded (0..1); a caller's sampling decision is kept.
   * Default: the SDK's from `OTEL_TRACES_SAMPLER`/`OTEL_TRACES_SAMPLER_ARG` (all by default).
   */
  readonly sampleRatio?: number;
  /**
   * Span processors to use instead of the OTLP exporter (tests pass an in-memory one).
   * Default: the SDK's exporter from the `OTEL_*` variables (OTLP over HTTP/protobuf).
   */
  readonly spanProcessors?: SpanProcessor[];
  /**
   * How the active trace context travels. `call` (default): with each call's signal through
   * the runtime's queries, transactions, events and clients, no async hooks (see
   * trace-scope.ts). `async`: AsyncLocalStorage, so it also follows your own code across
   * awaits, at a cost on every promise (see the README's benchmark).
   */
  readonly contextPropagation?: "call" | "async";
}

/** A started tracer provider. */
export interface Tracing {
  /** Flushes pending spans and stops; call at shutdown. */
  shutdown(): Promise<void>;
}

let hookRegistered = false;

/**
 * Registers import-in-the-middle's loader hook so ESM imports of grpc-js and pg are patched.
 * Idempotent; must run before they are imported.
 */
export function registerLoaderHook(): void {
  if (hookRegistered) return;
  hookRegistered = true;
  register("import-in-the-middle/hook.mjs", import.meta.url);
}

// Set by the runtime's query runner while `client.query` runs (see db/query.ts).
const currentQueryKey = Symbol.for("svcgen.runtime.db.currentQuery");

/**
 * The gRPC instrumentation for clients only: its server patch is replaced by an identity, as
 * the runtime's call adapter makes the server spans itself, for a fraction of the cost (see
 * server-span.ts). `_patchServer` is the instrumentation's own (private) factory of that
 * patch, read when grpc-js loads; the version is pinned.
 */
function grpcClientInstrumentation(): GrpcInstrumentation {
  const instrumentation = new GrpcInstrumentation();
  (
    instrumentation as unknown as { _patchServer: () => (original: unknown) => unknown }
  )._patchServer = () => (original) => original;
  return instrumentation;
}

/**
 * Starts the SDK with the gRPC (client side; the runtime makes server spans), pg and pino
 * instrumentations. SQL spans carry the query name
 * (`db.query.name`) and the statement text, never parameter values; pool connect spans,
 * and queries outside a trace are left out (noise); pino lines get
 * `trace_id`/`span_id`.
 */
export function startTracing(options: TracingOptions): Tracing {
  const sdk = new NodeSDK({
    serviceName: options.serviceName,
    // Without a context manager here the SDK installs AsyncLocalStorage's.
    ...(options.contextPropagation === "async"
      ? {}
      : { contextManager: new CallScopedContextManager() }),
    ...(options.sampleRatio === undefined
      ? {}
      : {
          sampler: new ParentBasedSampler({
            root: new TraceIdRatioBasedSampler(options.sampleRatio),
          }),
        }),
    ...(options.spanProcessors === undefined ? {} : { spanProcessors: options.spanProcessors }),
    // Metrics are prom-client's and logs pino's: without these the SDK would also start OTLP
    // metric and log exporters from the environment (and wait on them at shutdown).
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations: [
      grpcClientInstrumentation(),
      new PgInstrumentation({
        enhancedDatabaseReporting: false,
        ignoreConnectSpans: true,
        // No span for a query outside any trace (the health probe's SELECT 1 every 500 ms),
        // nor for one the query runner sends outside an unsampled trace.
        requireParentSpan: true,
        requestHook(span) {
          const name = (globalThis as { [currentQueryKey]?: string })[currentQueryKey];
          if (name !== undefined) span.setAttribute(queryNameAttribute, name);
        },
      }),
      new PinoInstrumentation({ disableLogSending: true }),
    ],
  });
  sdk.start();
  // Server spans are made by the runtime's call adapter (server-span.ts).
  enableServerSpans(true);
  const tracing: Tracing = {
    shutdown: () => {
      enableServerSpans(false);
      setActiveTracing(undefined);
      return sdk.shutdown();
    },
  };
  // `startServer`'s close() flushes it as its last step.
  setActiveTracing(tracing);
  return tracing;
}

/**
 * Tracing options from the environment, or undefined when tracing is off. On when an OTLP
 * endpoint is configured (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`)
 * or `OTEL_TRACES_EXPORTER` is set; off when `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`. Service name from `OTEL_SERVICE_NAME`, else `fallbackName`;
 * sampling ratio from `SVCGEN_TRACE_SAMPLE_RATIO` (else the standard sampler variables);
 * context propagation from `SVCGEN_TRACE_CONTEXT` (`call`, the default, or `async`).
 */
export function tracingOptionsFromEnv(
  fallbackName: string,
  env: Readonly<Record<string, string | undefined>> = process.env,
): TracingOptions | undefined {
  const set = (k: string): boolean => (env[k] ?? "") !== "";
  if (env.OTEL_SDK_DISABLED === "true" || env.OTEL_TRACES_EXPORTER === "none") return undefined;
  if (
    !set("OTEL_EXPORTER_OTLP_ENDPOINT") &&
    !set("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") &&
    !set("OTEL_TRACES_EXPORTER")
  ) {
    return undefined;
  }
  const ratioText = env.SVCGEN_TRACE_SAMPLE_RATIO;
  let sampleRatio: number | undefined;
  if (ratioText !== undefined && ratioText !== "") {
    sampleRatio = Number(ratioText);
    if (!Number.isFinite(sampleRatio) || sampleRatio < 0 || sampleRatio > 1) {
      throw new Error(`SVCGEN_TRACE_SAMPLE_RATIO must be a number from 0 to 1, got "${ratioText}"`);
    }
  }
  const propagationText = env.SVCGEN_TRACE_CONTEXT ?? "";
  if (propagationText !== "" && propagationText !== "call" && propagationText !== "async") {
    throw new Error(`SVCGEN_TRACE_CONTEXT must be "call" or "async", got "${propagationText}"`);
  }
  return {
    serviceName: env.OTEL_SERVICE_NAME || fallbackName,
    ...(sampleRatio === undefined ? {} : { sampleRatio }),
    ...(propagationText === "async" ? { contextPropagation: "async" as const } : {}),
  };
}

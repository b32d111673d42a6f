/**
 * gRPC metrics with go-grpc-prometheus's names and labels, so its dashboards and alert rules
 * work unchanged: `grpc_server_started_total`, `grpc_server_handled_total` (with `grpc_code`
 * spelled as Go spells it: `OK`, `NotFound`, `Unauthenticated`, ...),
 * `grpc_server_handling_seconds`, `grpc_server_msg_received_total`,
 * `grpc_server_msg_sent_total`, and the `grpc_client_*` equivalents. Labels are the method
 * coordinates and the code only, so cardinality is bounded by the proto.
 */
import {
  type ServerInterceptor as GrpcServerInterceptor,
  InterceptingCall,
  type Interceptor,
  type InterceptorOptions,
  type Metadata,
  type NextCall,
  ServerInterceptingCall,
  type ServerMethodDefinition,
  type StatusObject,
  status,
} from "@grpc/grpc-js";
import { Counter, Histogram, type Registry } from "prom-client";
import type { MethodInfo, MethodKind, ServerInterceptor, StatusOf } from "../server/interceptor.js";

/** go-grpc-prometheus's `grpc_type` values. */
export type GrpcType = "unary" | "client_stream" | "server_stream" | "bidi_stream";

/** The Go name of every status code (`codes.Code.String()`), the `grpc_code` label. */
export const goCodeNames: readonly string[] = [
  "OK",
  "Canceled",
  "Unknown",
  "InvalidArgument",
  "DeadlineExceeded",
  "NotFound",
  "AlreadyExists",
  "PermissionDenied",
  "ResourceExhausted",
  "FailedPrecondition",
  "Aborted",
  "OutOfRange",
  "Unimplemented",
  "Internal",
  "Unavailable",
  "DataLoss",
  "Unauthenticated",
];

/** The `grpc_code` label of a status code; out-of-range codes are `Unknown`. */
export function goCodeName(code: number): string {
  return goCodeNames[code] ?? "Unknown";
}

/** Prometheus's default buckets, what go-grpc-prometheus uses. */
export const defaultHandlingBuckets: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

const kindToType: Readonly<Record<MethodKind, GrpcType>> = {
  unary: "unary",
  server_streaming: "server_stream",
  client_streaming: "client_stream",
  bidi_streaming: "bidi_stream",
};

/** The `grpc_type` of a grpc-js method definition. */
export function grpcTypeOf(def: { requestStream: boolean; responseStream: boolean }): GrpcType {
  if (def.requestStream) return def.responseStream ? "bidi_stream" : "client_stream";
  return def.responseStream ? "server_stream" : "unary";
}

/** `/pkg.Service/Method` split into go-grpc-prometheus's service and method labels. */
export function splitPath(path: string): { service: string; method: string } {
  const slash = path.lastIndexOf("/");
  return { service: path.slice(1, slash), method: path.slice(slash + 1) };
}

/** The metrics of one method, its label values resolved once. */
export interface MethodMetrics {
  started(): void;
  handled(code: number, seconds: number): void;
  received(): void;
  sent(): void;
}

/** The metrics of one side (server or client) of gRPC calls. */
export interface RpcMetrics {
  started(type: GrpcType, service: string, method: string): void;
  handled(type: GrpcType, service: string, method: string, code: number, seconds: number): void;
  received(type: GrpcType, service: string, method: string): void;
  sent(type: GrpcType, service: string, method: string): void;
  /**
   * The same metrics bound to one method: the label children are looked up once per method
   * (and per code), not on every call. Label values are bounded by the proto, so is this.
   */
  forMethod(type: GrpcType, service: string, method: string): MethodMetrics;
}

/** Options of {@link registerGrpcServerMetrics} and {@link registerGrpcClientMetrics}. */
export interface RpcMetricsOptions {
  /** Buckets of the handling-time histogram, seconds. Default {@link defaultHandlingBuckets}. */
  readonly buckets?: readonly number[];
}

function registerRpcMetrics(
  registry: Registry,
  side: "server" | "client",
  options: RpcMetricsOptions,
): RpcMetrics {
  const labels = ["grpc_type", "grpc_service", "grpc_method"] as const;
  const what = side === "server" ? "RPCs started on the server" : "RPCs started on the client";
  const started = new Counter({
    name: `grpc_${side}_started_total`,
    help: `Total number of ${what}.`,
    labelNames: labels,
    registers: [registry],
  });
  const handled = new Counter({
    name: `grpc_${side}_handled_total`,
    help: `Total number of RPCs completed on the ${side}, regardless of success or failure.`,
    labelNames: [...labels, "grpc_code"],
    registers: [registry],
  });
  const seconds = new Histogram({
    name: `grpc_${side}_handling_seconds`,
    help:
      side === "server"
        ? "Histogram of response latency (seconds) of gRPC that had been application-level handled by the server."
        : "Histogram of response latency (seconds) of the gRPC until it is finished by the application.",
    labelNames: labels,
    buckets: [...(options.buckets ?? defaultHandlingBuckets)],
    registers: [registry],
  });
  const received = new Counter({
    name: `grpc_${side}_msg_received_total`,
    help: `Total number of RPC stream messages received on the ${side}.`,
    labelNames: labels,
    registers: [registry],
  });
  const sent = new Counter({
    name: `grpc_${side}_msg_sent_total`,
    help: `Total number of gRPC stream messages sent by the ${side}.`,
    labelNames: labels,
    registers: [registry],
  });
  const bound = new Map<string, MethodMetrics>();
  const forMethod = (t: GrpcType, s: string, m: string): MethodMetrics => {
    const key = `${t} ${s} ${m}`;
    let entry = bound.get(key);
    if (entry === undefined) {
      const startedChild = started.labels(t, s, m);
      const secondsChild = seconds.labels(t, s, m);
      const receivedChild = received.labels(t, s, m);
      const sentChild = sent.labels(t, s, m);
      const byCode: ({ inc(): void } | undefined)[] = [];
      entry = {
        started: () => startedChild.inc(),
        handled: (code, secs) => {
          let child = byCode[code];
          if (child === undefined) {
            child = handled.labels(t, s, m, goCodeName(code));
            // Codes outside 0-16 share the `Unknown` series without growing the array.
            if (code >= 0 && code < goCodeNames.length) byCode[code] = child;
          }
          child.inc();
          secondsChild.observe(secs);
        },
        received: () => receivedChild.inc(),
        sent: () => sentChild.inc(),
      };
      bound.set(key, entry);
    }
    return entry;
  };
  return {
    started: (t, s, m) => forMethod(t, s, m).started(),
    handled: (t, s, m, code, secs) => forMethod(t, s, m).handled(code, secs),
    received: (t, s, m) => forMethod(t, s, m).received(),
    sent: (t, s, m) => forMethod(t, s, m).sent(),
    forMethod,
  };
}

/** Registers the `grpc_server_*` metrics in `registry`. */
export function registerGrpcServerMetrics(
  registry: Registry,
  options: RpcMetricsOptions = {},
): RpcMetrics {
  return registerRpcMetrics(registry, "server", options);
}

/** Registers the `grpc_client_*` metrics in `registry`. */
export function registerGrpcClientMetrics(
  registry: Registry,
  options: RpcMetricsOptions = {},
): RpcMetrics {
  return registerRpcMetrics(registry, "client", options);
}

/**
 * The metrics interceptor for the runtime's chain: counts the call when it starts, each
 * message through `call.onMessage`, and its code (from `statusOf`) and duration when it settles.
 */
export function createMetricsInterceptor(
  metrics: RpcMetrics,
  statusOf: StatusOf,
): ServerInterceptor {
  // Per method, made on its first call: the bound metrics double as the message listener.
  const byMethod = new WeakMap<MethodInfo, MethodMetrics>();
  return (call, next) => {
    let bound = byMethod.get(call.info);
    if (bound === undefined) {
      bound = metrics.forMethod(kindToType[call.info.kind], call.info.service, call.info.method);
      byMethod.set(call.info, bound);
    }
    const method = bound;
    method.started();
    call.onMessage(method);
    const start = performance.now();
    return next().then(
      () => method.handled(status.OK, (performance.now() - start) / 1000),
      (error: unknown) => {
        method.handled(statusOf(error), (performance.now() - start) / 1000);
        throw error;
      },
    );
  };
}

/**
 * The same metrics as a grpc-js server interceptor (`new Server({ interceptors: [...] })`),
 * for servers built on `createServerHandlers` without the runtime's chain. A call the client
 * cancels counts as `Canceled`.
 */
export function createGrpcServerMetricsInterceptor(metrics: RpcMetrics): GrpcServerInterceptor {
  return (def: ServerMethodDefinition<unknown, unknown>, call) => {
    const type = grpcTypeOf(def);
    const { service, method } = splitPath(def.path);
    const start = performance.now();
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      metrics.handled(type, service, method, code, (performance.now() - start) / 1000);
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        metrics.started(type, service, method);
        next({
          onReceiveMessage(message, nextMessage) {
            metrics.received(type, service, method);
            nextMessage(message);
          },
          onCancel() {
            finish(status.CANCELLED);
          },
        });
      },
      sendMessage(message, next) {
        metrics.sent(type, service, method);
        next(message);
      },
      sendStatus(st, next) {
        finish(st.code);
        next(st);
      },
    });
  };
}

/**
 * A grpc-js client interceptor recording the `grpc_client_*` metrics (pass it in the client's
 * `interceptors` option; generated clients take grpc-js client options).
 */
export function createGrpcClientMetricsInterceptor(metrics: RpcMetrics): Interceptor {
  return (options: InterceptorOptions, nextCall: NextCall) => {
    const def = options.method_definition;
    const type = grpcTypeOf(def);
    const { service, method } = splitPath(def.path);
    const start = performance.now();
    return new InterceptingCall(nextCall(options), {
      start(metadata: Metadata, listener, next) {
        metrics.started(type, service, method);
        next(metadata, {
          onReceiveMessage(message: unknown, nextMessage: (m: unknown) => void) {
            metrics.received(type, service, method);
            nextMessage(message);
          },
          onReceiveStatus(st: StatusObject, nextStatus: (s: StatusObject) => void) {
            metrics.handled(type, service, method, st.code, (performance.now() - start) / 1000);
            nextStatus(st);
          },
        });
        void listener;
      },
      sendMessage(message: unknown, next: (m: unknown) => void) {
        metrics.sent(type, service, method);
        next(message);
      },
    });
  };
}

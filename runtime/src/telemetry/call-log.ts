/**
 * One structured line per call: service, method, code, duration, request id, trace and span
 * ids, principal id. An unexpected error (one that becomes INTERNAL) is logged once, on that
 * same line at level error, with its stack and the correlation id the caller can quote.
 */
import { randomUUID } from "node:crypto";
import {
  type ServerInterceptor as GrpcServerInterceptor,
  type Metadata,
  ServerInterceptingCall,
  type ServerMethodDefinition,
  status,
} from "@grpc/grpc-js";
import { trace } from "@opentelemetry/api";
import type { Logger as PinoLogger } from "pino";
import { principalOfMetadata } from "../auth/authenticate-hook.js";
import { isRpcError } from "../grpc/rpc-error.js";
import type { ServerInterceptor, StatusOf } from "../server/interceptor.js";
import type { Logger } from "../server/start-server.js";
import { goCodeName, splitPath } from "./grpc-metrics.js";

/** The level of a finished call: server faults are errors, overload warnings, the rest info. */
export function levelOfCode(code: number): "info" | "warn" | "error" {
  if (code === status.INTERNAL || code === status.UNKNOWN || code === status.DATA_LOSS)
    return "error";
  if (
    code === status.UNAVAILABLE ||
    code === status.DEADLINE_EXCEEDED ||
    code === status.RESOURCE_EXHAUSTED
  ) {
    return "warn";
  }
  return "info";
}

/** The active span's ids, or nothing when tracing is off. */
export function traceFields(): { trace_id?: string; span_id?: string } {
  const ctx = trace.getActiveSpan()?.spanContext();
  if (ctx === undefined || !trace.isSpanContextValid(ctx)) return {};
  return { trace_id: ctx.traceId, span_id: ctx.spanId };
}

/**
 * The call-log interceptor for the runtime's chain (place it inside the telemetry span, so
 * its line carries the span's ids). `log` is the service's pino logger or any logger with
 * the same `info`/`warn`/`error` signature.
 */
export function createCallLogInterceptor(log: Logger, statusOf: StatusOf): ServerInterceptor {
  return (call, next) => {
    const ids = traceFields();
    const start = performance.now();
    const write = (code: number, unexpected: unknown): void => {
      const fields = {
        grpc_service: call.info.service,
        grpc_method: call.info.method,
        grpc_code: goCodeName(code),
        duration_ms: Math.round((performance.now() - start) * 1000) / 1000,
        request_id: call.requestId,
        ...ids,
        ...(call.ctx.principal === undefined ? {} : { principal: call.ctx.principal.uid }),
        ...(unexpected === undefined ? {} : { err: unexpected, correlation_id: call.requestId }),
      };
      log[levelOfCode(code)](fields, "call");
    };
    return next().then(
      () => write(status.OK, undefined),
      (error: unknown) => {
        write(statusOf(error), isRpcError(error) ? undefined : error);
        throw error;
      },
    );
  };
}

/**
 * The call log as a grpc-js server interceptor, for servers built on `createServerHandlers`
 * without the runtime's chain. The request id is the caller's `x-request-id` or a new UUID;
 * the principal is the one `createAuthenticate` resolved for the call. Pair it with
 * {@link createUnexpectedErrorLogger} for stacks.
 */
export function createGrpcServerLogInterceptor(log: PinoLogger): GrpcServerInterceptor {
  return (def: ServerMethodDefinition<unknown, unknown>, call) => {
    const { service, method } = splitPath(def.path);
    const start = performance.now();
    let requestId = "";
    let metadata: Metadata | undefined;
    let done = false;
    const write = (code: number, ids: { trace_id?: string; span_id?: string }): void => {
      if (done) return;
      done = true;
      const principal = metadata === undefined ? undefined : principalOfMetadata(metadata);
      log[levelOfCode(code)](
        {
          grpc_service: service,
          grpc_method: method,
          grpc_code: goCodeName(code),
          duration_ms: Math.round((performance.now() - start) * 1000) / 1000,
          request_id: requestId,
          ...ids,
          ...(principal === undefined ? {} : { principal: principal.uid }),
        },
        "call",
      );
    };
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(received, nextMetadata) {
            metadata = received;
            const given = received.get("x-request-id")[0];
            requestId = typeof given === "string" && given.length <= 128 ? given : randomUUID();
            nextMetadata(received);
          },
          onCancel() {
            write(status.CANCELLED, {});
          },
        });
      },
      sendStatus(st, next) {
        // Called from the handler's continuation, so the server span is the active one.
        write(st.code, traceFields());
        next(st);
      },
    });
  };
}

/**
 * An `onUnexpectedError` hook for `createServerHandlers`: logs the error once with its stack,
 * the method and a correlation id (the trace id when tracing, else a new UUID).
 */
export function createUnexpectedErrorLogger(
  log: PinoLogger,
): (error: unknown, method: string) => void {
  return (error, method) => {
    const ids = traceFields();
    log.error(
      { err: error, method, correlation_id: ids.trace_id ?? randomUUID(), ...ids },
      "Unexpected error",
    );
  };
}

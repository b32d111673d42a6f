/**
 * The server span of a call, made by the runtime's call adapter rather than by
 * `@opentelemetry/instrumentation-grpc`'s server patch, which `startTracing` turns off (the
 * client side stays instrumented). The patch cost a traced call about a tenth of its CPU even
 * at 0 % sampling (a map of every metadata key for the W3C extraction, method wrappers installed
 * on each call, a debug line formatted and dropped); here a call reads the W3C headers,
 * starts the span with the same name, kind and `rpc.*` attributes, and ends it with the status
 * the client receives (`rpc.grpc.status_code`; span status ERROR for any other code than OK).
 * Only with tracing started by `startTracing` (see {@link enableServerSpans}).
 */

import type { Metadata } from "@grpc/grpc-js";
import {
  type Context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from "@opentelemetry/api";

const enabledKey = Symbol.for("svcgen.runtime.serverSpans");
type Holder = { [enabledKey]?: boolean };

/** Turns the adapter's server spans on or off (startTracing does, with the patch off). */
export function enableServerSpans(on: boolean): void {
  (globalThis as Holder)[enabledKey] = on;
}

const metadataGetter: TextMapGetter<Metadata> = {
  get(carrier, key) {
    const values = carrier.get(key);
    return values.length === 0 ? undefined : values.map(String);
  },
  keys: (carrier) => Object.keys(carrier.getMap()),
};

/** A started server span and the context that holds it. */
export interface ServerSpan {
  readonly span: Span;
  readonly context: Context;
}

/**
 * Starts the server span of a call to `path` (`/package.Service/Method`), child of the trace
 * context in `metadata`; undefined when the adapter's server spans are off.
 */
export function startServerSpan(
  path: string,
  service: string,
  method: string,
  metadata: Metadata,
): ServerSpan | undefined {
  if ((globalThis as Holder)[enabledKey] !== true) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, metadata, metadataGetter);
  const span = trace.getTracer("@svcgen/runtime").startSpan(
    `grpc.${path.slice(1)}`,
    {
      kind: SpanKind.SERVER,
      attributes: { "rpc.system": "grpc", "rpc.method": method, "rpc.service": service },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends a server span with the call's outcome: OK, or the error the client receives. */
export function endServerSpan(
  span: Span,
  error: { readonly code: number; readonly details: string; readonly name?: string } | undefined,
): void {
  if (span.isRecording()) {
    if (error === undefined) {
      span.setAttribute("rpc.grpc.status_code", 0);
    } else {
      span.setStatus({ code: SpanStatusCode.ERROR, message: error.details });
      span.setAttributes({
        "rpc.grpc.status_code": error.code,
        "grpc.error_name": error.name ?? "Error",
        "grpc.error_message": error.details,
      });
    }
  }
  span.end();
}

/**
 * W3C trace context across events: a producer writes the active context into the event's
 * headers (`traceparent`, `tracestate`), and a consumer handles the event in a span whose
 * parent is that context, so one trace runs from the producing call through the relay to the
 * consumer's SQL. Without a started OpenTelemetry SDK both are no-ops (no headers, no spans).
 */

import {
  context,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";
import { attachedTraceContext, attachTraceContext } from "../telemetry/trace-scope.js";
import type { StoredEvent } from "./event-types.js";

/**
 * The trace context as event headers (empty when nothing is traced): the one attached to
 * `tx`, the transaction the event is written in (its call's, see trace-scope.ts), else the
 * active one.
 */
export function traceHeaders(tx?: object): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(attachedTraceContext(tx) ?? context.active(), carrier);
  return carrier;
}

/**
 * Runs `fn` in a consumer span `<topic> process`, child of the trace context in the event's
 * headers; a rejection is recorded on the span and passed on. While `fn` runs, the span's
 * context is attached to `tx` (the consumer's transaction), so the handler's queries on it are
 * the span's children without async context propagation (see trace-scope.ts).
 */
export function withEventSpan<T>(
  event: StoredEvent,
  group: string,
  fn: () => Promise<T>,
  tx?: object,
): Promise<T> {
  const parent = propagation.extract(ROOT_CONTEXT, event.headers);
  const tracer = trace.getTracer("@svcgen/runtime");
  return tracer.startActiveSpan(
    `${event.topic} process`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        "messaging.operation.type": "process",
        "messaging.destination.name": event.topic,
        "messaging.consumer.group.name": group,
        "messaging.message.id": event.id,
      },
    },
    parent,
    async (span: Span) => {
      const outer = tx === undefined ? undefined : attachedTraceContext(tx);
      if (tx !== undefined) attachTraceContext(tx, context.active());
      try {
        return await fn();
      } catch (err) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        if (tx !== undefined) attachTraceContext(tx, outer);
        span.end();
      }
    },
  );
}

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
import type { StoredEvent } from "./event-types.js";

/** The active trace context as event headers (empty when nothing is traced). */
export function traceHeaders(): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier;
}

/**
 * Runs `fn` in a consumer span `<topic> process`, child of the trace context in the event's
 * headers; a rejection is recorded on the span and passed on.
 */
export function withEventSpan<T>(
  event: StoredEvent,
  group: string,
  fn: () => Promise<T>,
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
      try {
        return await fn();
      } catch (err) {
        span.recordException(err instanceof Error ? err : String(err));
        span.setStatus({ code: SpanStatusCode.ERROR });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

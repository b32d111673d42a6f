/**
 * Child process of the tracing test, started the way a generated entry point starts: the
 * loader hook and the SDK first (here with an in-memory exporter), then the service code
 * through a dynamic import. Prints the recorded spans and log lines as one JSON document.
 */
import { InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { registerLoaderHook, startTracing } from "@svcgen/runtime/telemetry/tracing";

registerLoaderHook();
const exporter = new InMemorySpanExporter();
const tracing = startTracing({
  serviceName: "tracing-test",
  contextPropagation: process.env.SVCGEN_TRACE_CONTEXT === "async" ? "async" : "call",
  spanProcessors: [new SimpleSpanProcessor(exporter)],
});
const { runScenario } = await import("./tracing-scenario.js");
const logs = await runScenario(process.env.TEST_DATABASE_URL ?? "");
// Read before shutdown: shutting the exporter down clears what it holds.
const spans = exporter.getFinishedSpans().map((s) => ({
  name: s.name,
  kind: s.kind,
  traceId: s.spanContext().traceId,
  spanId: s.spanContext().spanId,
  parentSpanId: s.parentSpanContext?.spanId,
  attributes: s.attributes,
}));
await tracing.shutdown();
process.stdout.write(`${JSON.stringify({ spans, logs })}\n`);

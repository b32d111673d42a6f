/**
 * Child process of the tracing test that starts exactly as a generated entry point will:
 * the register entry first (tracing configured only by `OTEL_*` variables), the service code
 * through a dynamic import, no node flags.
 */
import { startedTracing } from "@svcgen/runtime/telemetry/register";

const { runScenario } = await import("./tracing-scenario.js");
await runScenario(process.env.TEST_DATABASE_URL ?? "");
await startedTracing?.shutdown();
process.stdout.write(`${JSON.stringify({ started: startedTracing !== undefined })}\n`);

/**
 * `@svcgen/runtime/telemetry/register`: import this first in an entry point, then load the
 * service with a dynamic `import()` (static imports are all loaded before any module body
 * runs, so grpc-js and pg would load unpatched). Registers the ESM loader hook and, when the
 * environment turns tracing on (see `tracingOptionsFromEnv`), starts the SDK. Also usable as
 * `node --import @svcgen/runtime/telemetry/register app.js`.
 */
import {
  registerLoaderHook,
  startTracing,
  type Tracing,
  tracingOptionsFromEnv,
} from "./tracing.js";

const options = tracingOptionsFromEnv("svcgen-service");
let tracing: Tracing | undefined;
if (options !== undefined) {
  registerLoaderHook();
  tracing = startTracing(options);
}

/** The tracer provider this import started, undefined when tracing is off; shut it down last. */
export const startedTracing: Tracing | undefined = tracing;
